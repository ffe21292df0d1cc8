// Loads the compiled libtorch addon. The path is resolved from the package root so it
// works both from src/ (tests through tsx) and from dist/ (the published build).
import { createRequire } from 'node:module';
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

import type { NativeAddon } from './native-api.js';

export type { DTypeCode, NativeAddon, NativeHandle, Scalar } from './native-api.js';

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

function loadAddon(): NativeAddon {
  const path = join(packageRoot, 'build', 'Release', 'resnets.node');
  if (!existsSync(path)) {
    throw new Error(`resnets: the native addon is not built (${path} is missing); run 'bash scripts/setup.sh' or 'npm run build:native'`);
  }
  return createRequire(import.meta.url)(path) as NativeAddon;
}

/**
 * The addon. Loading it changes no global setting: libtorch keeps its own thread count
 * (one intra-op thread inside Node) until the application sets one, as the CLI does
 * with torch.useDefaultThreads().
 */
export const native = loadAddon();
