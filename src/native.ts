// Loads the compiled libtorch addon. The path is resolved from the package root so it
// works both from src/ (tests through tsx) and from dist/ (the published build).
import { createRequire } from 'node:module';
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

// eslint-disable-next-line @typescript-eslint/no-explicit-any
export type NativeFunction = (...args: any[]) => any;
export type NativeHandle = object & { readonly __nativeTensor?: never };

function findPackageRoot(start: string): string {
  let dir = start;
  while (!existsSync(join(dir, 'package.json'))) {
    const parent = dirname(dir);
    if (parent === dir) throw new Error(`resnets: cannot find package.json above ${start}`);
    dir = parent;
  }
  return dir;
}

export const packageRoot = findPackageRoot(dirname(fileURLToPath(import.meta.url)));

function loadAddon(): Record<string, NativeFunction> {
  const path = join(packageRoot, 'build', 'Release', 'resnets.node');
  if (!existsSync(path)) {
    throw new Error(`resnets: the native addon is not built (${path} is missing); run 'bash scripts/setup.sh' or 'npm run build:native'`);
  }
  return createRequire(import.meta.url)(path) as Record<string, NativeFunction>;
}

export const native = loadAddon();

// libtorch starts with one intra-op thread inside Node; use the machine's cores unless told otherwise.
const requestedThreads = Number(process.env.RESNETS_NUM_THREADS ?? 0);
import { availableParallelism } from 'node:os';
// A count above the cores only slows every op down: capped there (setNumThreads warns).
native.setNumThreads(Math.min(requestedThreads > 0 && Number.isSafeInteger(requestedThreads) ? requestedThreads : availableParallelism(), availableParallelism()));
