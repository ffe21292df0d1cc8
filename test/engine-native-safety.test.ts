// The native boundary under hostile or starved conditions: handles from another addon,
// V8 unable to allocate a copy, and tensors dropped without dispose() in loops that never
// yield to the event loop. The memory cases run in a child process that lowers its own
// address-space limit (prlimit), so a regression fails the child instead of the machine.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { describe, it } from 'node:test';
import { torch } from '../src/index.js';
import { native } from '../src/native.js';
import { foreignAddon } from './helpers/foreign-external.js';

/** Runs `body` (a module's text, importing from the sources) in a child; returns its last stdout line as JSON. */
function inChild(body: string, timeout = 120_000): Record<string, unknown> {
  const child = spawnSync(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', body], {
    encoding: 'utf8',
    timeout,
    env: { ...process.env, RESNETS_NUM_THREADS: '1' },
  });
  assert.equal(child.signal, null, `the child was killed by ${child.signal}: ${child.stderr.slice(-1500)}`);
  assert.equal(child.status, 0, `the child exited with ${child.status}: ${child.stderr.slice(-1500)}`);
  return JSON.parse(child.stdout.trim().split('\n').pop() ?? '{}') as Record<string, unknown>;
}

// Shared by the children: the address-space limit is set relative to what the process
// has mapped once libtorch is loaded (V8 and the thread pools reserve tens of GB).
const PRELUDE = `
import { torch } from '${process.cwd()}/src/index.ts';
import { readFileSync } from 'node:fs';
import { execFileSync } from 'node:child_process';
const mapped = () => Number(/VmSize:\\s+(\\d+)/.exec(readFileSync('/proc/self/status', 'utf8'))[1]) * 1024;
const limitTo = (extra) => execFileSync('prlimit', ['--pid', String(process.pid), '--as=' + Math.round(mapped() + extra)]);
`;

describe('tensor handles are type-tagged', () => {
  const foreign = foreignAddon();
  for (const [name, make] of [
    ['a null External', () => foreign.nullExternal()],
    ['an External over zeroed memory', () => foreign.zeroExternal()],
    ['an External over 0xff bytes', () => foreign.garbageExternal()],
  ] as const) {
    it(`refuses ${name} from another addon with a TypeError, in every use`, () => {
      for (const call of [
        () => native.shape(make()),
        () => native.isLive(make()),
        () => native.dispose(make()),
        () => native.add(native.ones([2], 6, undefined), make()),
        () => native.cat([native.ones([2], 6, undefined), make()], 0),
        () => new torch.Tensor(make()).toArray(),
      ]) {
        assert.throws(call, (error: unknown) => {
          assert.ok(error instanceof TypeError, `expected a TypeError, got ${String(error)}`);
          assert.match((error as Error).message, /expected a tensor handle, got an External that is not a resnets tensor handle/);
          return true;
        });
      }
      assert.equal(torch.tidy(() => torch.ones([3]).sum().item()), 3, 'the process still computes');
    });
  }

  it('names what was passed instead of a handle', () => {
    assert.throws(() => native.shape({}), { name: 'TypeError', message: 'expected a tensor handle, got an object' });
    assert.throws(() => native.shape(undefined), { name: 'TypeError', message: 'expected a tensor handle, got undefined' });
  });
});

describe('copying a tensor out when V8 cannot allocate the ArrayBuffer', () => {
  it('is a JS Error from toTypedArray and toBytes, and the process carries on', () => {
    const report = inChild(`${PRELUDE}
      const t = torch.zeros([100_000_000]); // 400 MB
      limitTo(200e6);                       // room for less than one more copy
      const messages = [];
      for (const copy of [() => t.toTypedArray(), () => t.toBytes(), () => t.toArray()]) {
        try { copy(); messages.push('no error'); } catch (error) { messages.push(error.constructor.name + ': ' + error.message); }
      }
      t.dispose();
      console.log(JSON.stringify({ messages, after: torch.ones([4]).sum().item() }));`);
    const messages = report.messages as string[];
    assert.equal(messages.length, 3);
    for (const message of messages) assert.match(message, /^Error: cannot allocate 400000000 bytes to copy a tensor of 100000000 elements out of libtorch/);
    assert.equal(report.after, 4);
  });
});

describe('tensors that escape every scope', () => {
  it('are freed by garbage collection inside a synchronous loop and one that only awaits promises', () => {
    // 150 iterations x 2 tensors x 8 MB: 2.4 GB if nothing is freed before the loop ends,
    // against a limit of 1.2 GB more than the process had mapped.
    const report = inChild(`${PRELUDE}
      limitTo(1.2e9);
      let peakSync = 0, peakAsync = 0;
      for (let i = 0; i < 150; i++) {
        torch.ones([2_000_000]).mul(2);
        peakSync = Math.max(peakSync, torch.memory().nativeBytes);
      }
      for (let i = 0; i < 150; i++) {
        await Promise.resolve();
        torch.ones([2_000_000]).mul(2);
        peakAsync = Math.max(peakAsync, torch.memory().nativeBytes);
      }
      console.log(JSON.stringify({ peakSync, peakAsync }));`);
    for (const key of ['peakSync', 'peakAsync']) {
      const peak = report[key] as number;
      assert.ok(peak < 800e6, `${key}: native memory reached ${(peak / 1e6).toFixed(0)} MB for 2400 MB of dropped tensors`);
    }
  });

  it('frees autograd graphs (and the tensors they saved) when their output is collected', () => {
    const report = inChild(`${PRELUDE}
      limitTo(1.2e9);
      const w = torch.ones([2_000_000]).requiresGrad_();
      let peak = 0;
      for (let i = 0; i < 100; i++) {
        // sin() saves its input: each iteration's graph holds two 8 MB tensors nobody disposes.
        w.mul(2).sin().sum();
        peak = Math.max(peak, torch.memory().nativeBytes);
      }
      console.log(JSON.stringify({ peak }));`);
    assert.ok((report.peak as number) < 800e6, `native memory reached ${((report.peak as number) / 1e6).toFixed(0)} MB`);
  });
});

describe('memory() counts every byte libtorch holds for us', () => {
  it('includes tensors autograd saved for backward after their handles are disposed', () => {
    assert.equal(torch.memory().countsAllAllocations, true);
    const start = torch.memory();
    const x = torch.ones([1000]).requiresGrad_();
    const hidden = x.mul(2); // 4000 bytes, saved by sin() below
    const out = hidden.sin();
    hidden.dispose();
    const held = torch.memory();
    assert.equal(held.tensorBytes - start.tensorBytes, 8000, 'handles address x and out');
    assert.equal(held.nativeBytes - start.nativeBytes, 12000, 'the graph still holds the disposed input of sin()');
    out.dispose();
    assert.equal(torch.memory().nativeBytes - start.nativeBytes, 4000, 'disposing the output frees its graph');
    x.dispose();
    assert.deepEqual(torch.memory(), start);
  });
});
