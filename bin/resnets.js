#!/usr/bin/env node
// The `resnets` command: runs the compiled CLI from dist/.
import { existsSync } from 'node:fs';

const entry = new URL('../dist/cli/main.js', import.meta.url);
if (!existsSync(entry)) {
  process.stderr.write("resnets: the build is missing (dist/cli/main.js); run 'npm run build' (or 'bash scripts/setup.sh') in the resnets package first\n");
  process.exit(1);
}
const { main } = await import(entry.href);
process.exitCode = await main(process.argv);
