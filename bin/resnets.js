#!/usr/bin/env node
// The `resnets` command: runs the compiled CLI from dist/.
import { existsSync } from 'node:fs';

const entry = new URL('../dist/cli/main.js', import.meta.url);
if (!existsSync(entry)) {
  process.stderr.write("resnets: the build is missing (dist/cli/main.js); run 'npm run build' (or 'bash scripts/setup.sh') in the resnets package first\n");
  process.exit(1);
}
// libgomp's threads spin at each barrier before they sleep; on a machine whose cores
// other processes share, a spinning thread holds the core its partner needs, and a
// ResNet-50 forward at 2 threads ran 4 to 7 times slower (bench/README.md). libgomp
// reads this once, when libtorch loads, so it is set before the addon is imported.
process.env.OMP_WAIT_POLICY ??= 'PASSIVE';
const { main } = await import(entry.href);
process.exitCode = await main(process.argv);
