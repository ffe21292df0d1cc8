#!/usr/bin/env node
// The `resnets` command: runs the compiled CLI from dist/.
import { existsSync } from 'node:fs';

const entry = new URL('../dist/cli/main.js', import.meta.url);
if (!existsSync(entry)) {
  process.stderr.write("resnets: the build is missing (dist/cli/main.js); run 'npm run build' (or 'bash scripts/setup.sh') in the resnets package first\n");
  process.exit(1);
}
// libgomp's threads spin at each barrier before they sleep: 300,000 spins by default
// (milliseconds), which on a machine whose cores other processes share holds the core a
// partner thread needs (a ResNet-50 forward at 2 threads ran 4 to 7 times slower), while
// not spinning at all (OMP_WAIT_POLICY=PASSIVE) costs a wake-up at each of a forward's
// barriers (about 10% at batch 1). 10,000 spins cover the gap between two kernels and no
// more (bench/README.md). libgomp reads these once, when libtorch loads, so they are set
// before the addon is imported, and only when the user set neither.
if (process.env.OMP_WAIT_POLICY === undefined && process.env.GOMP_SPINCOUNT === undefined) process.env.GOMP_SPINCOUNT = '10000';
// Debian's default OpenBLAS (the pthread build, which libtorch's linear layers call) keeps
// its worker threads spinning for 2^28 cycles (about 0.1 s) after each call, on the cores
// oneDNN's next kernels need; a PyTorch peer doing the same halved our ResNet-50 batch-1
// figure in `bench --compare-torch` (bench/README.md). 2^4 cycles, OpenBLAS's least, lets
// them sleep at once. Read when OpenBLAS loads, so set here too, unless the user set it.
if (process.env.OPENBLAS_THREAD_TIMEOUT === undefined) process.env.OPENBLAS_THREAD_TIMEOUT = '4';
const { main } = await import(entry.href);
process.exitCode = await main(process.argv);
