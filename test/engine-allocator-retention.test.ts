// torch.retainFreedMemory: freed memory stays in the process for the next step (glibc
// would otherwise hand the heap's free top back to the kernel, to be page-faulted in again).
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { describe, it } from 'node:test';

interface Rounds {
  retained: boolean;
  rounds: { held: number; afterFree: number }[];
}

function residentAroundFrees(mode: 'default' | 'retain'): Rounds {
  const output = execFileSync(process.execPath, ['--import', 'tsx', 'test/helpers/freed-memory-rss.mts', mode], {
    encoding: 'utf8',
    env: { ...process.env, RESNETS_NUM_THREADS: '1' },
  });
  return JSON.parse(output.trim().split('\n').pop()!) as Rounds;
}

describe('torch.retainFreedMemory', () => {
  it('keeps freed tensors resident, where glibc by default hands the heap\'s free top back', () => {
    const byDefault = residentAroundFrees('default');
    const retaining = residentAroundFrees('retain');
    assert.equal(byDefault.retained, false);
    assert.equal(retaining.retained, true, 'glibc took the settings');
    const returned = (r: Rounds) => Math.max(...r.rounds.map(({ held, afterFree }) => held - afterFree));
    assert.ok(returned(byDefault) > 16, `by default: ${JSON.stringify(byDefault.rounds)}`);
    assert.ok(returned(retaining) < 4, `retaining: ${JSON.stringify(retaining.rounds)}`);
  });
});
