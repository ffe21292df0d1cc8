// Two ranks in two network namespaces joined by a veth pair, so the rendezvous, Gloo's
// all-reduce and DistributedDataParallel's gradients cross a real network interface (with
// its own addresses, chosen by GLOO_SOCKET_IFNAME) rather than loopback. The namespaces
// are made here and removed after; this needs root (CI has it) and is skipped otherwise.
import assert from 'node:assert/strict';
import { execFileSync, spawn } from 'node:child_process';
import { describe, it } from 'node:test';

const id = String(process.pid % 100000);
const spaces = [`rnA${id}`, `rnB${id}`];
const links = [`rva${id}`, `rvb${id}`];
const addresses = ['10.231.7.1', '10.231.7.2'];

const ip = (...args: string[]) => execFileSync('ip', args, { stdio: ['ignore', 'pipe', 'pipe'] }).toString();

/** Why the test cannot run here, or undefined when namespaces can be made. */
function unavailable(): string | undefined {
  if (process.platform !== 'linux') return 'network namespaces are Linux only';
  if (process.getuid?.() !== 0) return 'ip netns needs root';
  try {
    ip('netns', 'add', spaces[0]);
    ip('netns', 'del', spaces[0]);
    return undefined;
  } catch (error) {
    return `ip netns is not permitted here (${String((error as { stderr?: Buffer }).stderr ?? error).trim().split('\n')[0]})`;
  }
}

function createPair(): void {
  for (const space of spaces) ip('netns', 'add', space);
  ip('link', 'add', links[0], 'type', 'veth', 'peer', 'name', links[1]);
  spaces.forEach((space, i) => {
    ip('link', 'set', links[i], 'netns', space);
    ip('-n', space, 'addr', 'add', `${addresses[i]}/24`, 'dev', links[i]);
    ip('-n', space, 'link', 'set', links[i], 'up');
    ip('-n', space, 'link', 'set', 'lo', 'up');
  });
}

function removePair(): void {
  // Deleting a namespace deletes the veth end inside it, and so the pair.
  for (const space of spaces) {
    try {
      ip('netns', 'del', space);
    } catch {
      // not made
    }
  }
}

/** Bytes a namespace's veth end has sent. */
const sentBytes = (i: number) => Number(/TX:.*\n\s*(\d+)/.exec(ip('-n', spaces[i], '-s', 'link', 'show', links[i]))?.[1] ?? 0);

async function runInSpaces(script: string, env: Record<string, string>): Promise<{ code: number | null; stdout: string; stderr: string }[]> {
  return Promise.all(
    spaces.map((space, rank) => {
      const child = spawn('ip', ['netns', 'exec', space, process.execPath, '--import', 'tsx', script], {
        env: { ...process.env, WORLD_SIZE: '2', RANK: String(rank), MASTER_ADDR: addresses[0], MASTER_PORT: '29561', GLOO_SOCKET_IFNAME: links[rank], ...env },
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      let stdout = '';
      let stderr = '';
      child.stdout.on('data', (chunk: Buffer) => (stdout += chunk));
      child.stderr.on('data', (chunk: Buffer) => (stderr += chunk));
      return new Promise<{ code: number | null; stdout: string; stderr: string }>((resolve) => child.on('exit', (code) => resolve({ code, stdout, stderr })));
    }),
  );
}

const lastJson = (text: string) => JSON.parse(text.trim().split('\n').at(-1)!) as Record<string, unknown>;
const reason = unavailable();

describe('two ranks in two network namespaces over a veth pair', { skip: reason }, () => {
  it('meet at the rendezvous, all-reduce and train data-parallel across the interface', async () => {
    removePair();
    createPair();
    try {
      const before = sentBytes(1);
      const collectives = await runInSpaces('test/helpers/collectives-worker.mts', {});
      for (const run of collectives) assert.equal(run.code, 0, run.stderr);
      for (const run of collectives) {
        const seen = lastJson(run.stdout);
        assert.deepEqual(seen.sum, [3, 20]);
        assert.deepEqual(seen.broadcast, [6, 7]);
      }
      const training = await runInSpaces('test/helpers/ddp-worker.mts', { SYNC_BN: '1', STEPS: '3' });
      for (const run of training) assert.equal(run.code, 0, run.stderr);
      const [zero, one] = training.map((run) => lastJson(run.stdout) as { values: unknown });
      assert.deepEqual(one.values, zero.values, 'the replicas agree');
      // Rank 1's side of the pair carried its rendezvous, all-reduce and gradient traffic.
      assert.ok(sentBytes(1) - before > 1000, `rank 1 sent ${sentBytes(1) - before} bytes over ${links[1]}`);
    } finally {
      removePair();
    }
  });
});
