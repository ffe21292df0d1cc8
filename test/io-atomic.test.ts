// Saves are atomic: a writer killed halfway, or failing halfway, leaves the previous
// file intact and readable, and the real name never holds a partial file.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { after, describe, test } from 'node:test';
import * as io from '../src/io/index.js';
import * as torch from '../src/torch/index.js';
import { tempDir } from './helpers/python.js';

const HALFWAY_BYTES = 4 * 1024 * 1024;

/**
 * A child process that saves 8 MiB of tensors to argv[2] with fs.writeSync slowed to a
 * stop: after HALFWAY_BYTES it prints "halfway" and blocks until it is killed.
 */
function childSource(): string {
  const url = (path: string) => pathToFileURL(resolve(path)).href;
  return `
import fs from 'node:fs';
import { syncBuiltinESMExports } from 'node:module';
const io = await import(${JSON.stringify(url('src/io/index.ts'))});
const torch = await import(${JSON.stringify(url('src/torch/index.ts'))});
const target = process.argv[2];
const original = fs.writeSync;
let written = 0;
fs.writeSync = (fd, buffer, offset, length, position) => {
  if (fd <= 2 || typeof buffer === 'string') return original(fd, buffer, offset, length, position);
  const room = ${HALFWAY_BYTES} - written;
  if (room <= 0) {
    original(1, 'halfway\\n');
    Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 120000);
    process.exit(3);
  }
  const count = original(fd, buffer, offset, Math.min(length, room), position);
  written += count;
  return count;
};
syncBuiltinESMExports();
if (target.endsWith('.npy')) io.save(torch.full([2 * 1024 * 1024], 9), target);
else {
  const dict = {};
  for (let i = 0; i < 8; i++) dict['layer' + i + '.weight'] = torch.full([256 * 1024], i + 10);
  io.save(dict, target);
}
process.exit(4);
`;
}

interface Killed {
  signal: NodeJS.Signals | null;
  temporaries: { name: string; size: number }[];
}

/** Starts the child, waits for "halfway", lists the folder, then SIGKILLs it. */
function killHalfway(script: string, target: string, folder: string): Promise<Killed> {
  return new Promise((resolvePromise, reject) => {
    const child = spawn(process.execPath, ['--import', 'tsx', script, target], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    let temporaries: Killed['temporaries'] = [];
    const timer = setTimeout(() => child.kill('SIGKILL'), 90_000);
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    child.stdout.on('data', (chunk: Buffer) => {
      stdout += chunk.toString();
      if (!stdout.includes('halfway') || temporaries.length > 0) return;
      temporaries = readdirSync(folder)
        .filter((name) => name.includes('.tmp-'))
        .map((name) => ({ name, size: statSync(join(folder, name)).size }));
      child.kill('SIGKILL');
    });
    child.on('error', reject);
    child.on('exit', (code, signal) => {
      clearTimeout(timer);
      if (!stdout.includes('halfway')) reject(new Error(`the writer exited (code ${code}, signal ${signal}) before reaching halfway:\n${stderr}`));
      else resolvePromise({ signal, temporaries });
    });
  });
}

describe('io: atomic saves', () => {
  const dir = tempDir('resnets-io-atomic-');
  const script = join(dir.path, 'slow-writer.mjs');
  writeFileSync(script, childSource());
  after(() => dir.cleanup());

  for (const extension of ['safetensors', 'pth', 'npy']) {
    test(`a .${extension} writer killed halfway leaves the previous file intact and readable`, async () => {
      const folder = join(dir.path, extension);
      const target = join(folder, `model.${extension}`);
      mkdirSync(folder, { recursive: true });
      const previous = torch.tidy(() => {
        const weight = torch.arange(0, 6, 1, { dtype: 'float32' }).reshape(2, 3);
        if (extension === 'npy') io.save(weight, target);
        else io.save({ 'fc.weight': weight }, target);
        return readFileSync(target);
      });

      const killed = await killHalfway(script, target, folder);
      assert.equal(killed.signal, 'SIGKILL');
      // The kill really came mid-write: a partial temporary file, next to the target.
      assert.equal(killed.temporaries.length, 1, `temporaries: ${JSON.stringify(killed.temporaries)}`);
      assert.match(killed.temporaries[0].name, new RegExp(`^model\\.${extension}\\.tmp-\\d+-[0-9a-f]+$`));
      assert.equal(killed.temporaries[0].size, HALFWAY_BYTES);

      assert.deepEqual(readFileSync(target), previous, 'the previous file is byte for byte intact');
      torch.tidy(() => {
        const loaded = io.load(target);
        const weight = loaded instanceof torch.Tensor ? loaded : loaded['fc.weight'];
        assert.deepEqual(weight.toArray(), [[0, 1, 2], [3, 4, 5]]);
      });
    });
  }

  test('a writer killed halfway with no previous file leaves nothing under the real name', async () => {
    const folder = join(dir.path, 'fresh');
    mkdirSync(folder, { recursive: true });
    const target = join(folder, 'model.safetensors');
    const killed = await killHalfway(script, target, folder);
    assert.equal(killed.signal, 'SIGKILL');
    assert.equal(existsSync(target), false);
  });

  test('a write that fails halfway removes its temporary file and keeps the previous file', () => {
    const folder = join(dir.path, 'failing');
    mkdirSync(folder, { recursive: true });
    const target = join(folder, 'data.bin');
    writeFileSync(target, 'previous');
    function* failingChunks(): Generator<Uint8Array> {
      yield new Uint8Array(1024).fill(1);
      throw new Error('disk on fire');
    }
    assert.throws(() => io.writeFileAtomic(target, failingChunks()), /disk on fire/);
    assert.equal(readFileSync(target, 'utf8'), 'previous');
    assert.deepEqual(readdirSync(folder), ['data.bin']);
  });

  test('a successful save replaces the file and leaves no temporary behind', () => {
    const folder = join(dir.path, 'replace');
    mkdirSync(folder, { recursive: true });
    const target = join(folder, 'model.pth');
    torch.tidy(() => {
      io.save({ a: torch.zeros([2]) }, target);
      io.save({ a: torch.ones([3]) }, target);
      assert.deepEqual(io.load(target).a.toArray(), [1, 1, 1]);
    });
    assert.deepEqual(readdirSync(folder), ['model.pth']);
    assert.throws(
      () => torch.tidy(() => io.save({ a: torch.ones([1]) }, join(folder, 'missing', 'model.pth'))),
      (error: NodeJS.ErrnoException) => error.code === 'ENOENT' && /the folder '.*missing' does not exist$/.test(error.message) && !error.message.includes('.tmp-'),
    );
    assert.deepEqual(readdirSync(folder), ['model.pth']);
  });
});
