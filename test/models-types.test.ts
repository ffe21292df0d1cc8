// Model names and options are checked at compile time: test/types/model-names.ts
// compiles, and each of its @ts-expect-error lines (a misspelled name, a misspelled
// option, another family's option, a plain string) is an error.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { dirname, join } from 'node:path';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');

describe('typed model names and options', () => {
  it('test/types compiles with every expected error present', () => {
    const tsc = join(root, 'node_modules', 'typescript', 'bin', 'tsc');
    try {
      execFileSync(process.execPath, [tsc, '-p', join(root, 'test', 'types')], { encoding: 'utf8', stdio: 'pipe' });
    } catch (error) {
      assert.fail(`tsc -p test/types failed:\n${(error as { stdout?: string }).stdout ?? error}`);
    }
  });
});
