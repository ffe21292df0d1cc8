// train.distributed on real processes (two ranks on loopback): collectives, the event
// loop while a collective waits, DistributedDataParallel + SyncBatchNorm against one
// process, DistributedSampler's contract against PyTorch's, fast failures of the
// rendezvous, and a rank killed with SIGKILL named by the survivor.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { createServer, type Server } from 'node:net';
import { describe, it } from 'node:test';
import { data, train } from '../src/index.js';
import { runPythonCode } from './helpers/python.js';

const dist = train.distributed;

interface RankRun {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

/** Runs `script` as ranks 0..world-1 on a fresh port; `onLine` sees each rank's stdout lines. */
async function runRanks(script: string, world: number, env: Record<string, string> = {}, onLine?: (rank: number, line: string) => void): Promise<RankRun[]> {
  const port = await freePort();
  return Promise.all(
    Array.from({ length: world }, (_, rank) => {
      const child = spawn(process.execPath, ['--import', 'tsx', script], {
        env: { ...process.env, WORLD_SIZE: String(world), RANK: String(rank), MASTER_ADDR: '127.0.0.1', MASTER_PORT: String(port), ...env },
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      const run: RankRun = { code: null, signal: null, stdout: '', stderr: '' };
      child.stdout.on('data', (chunk: Buffer) => {
        const text = chunk.toString();
        run.stdout += text;
        for (const line of text.split('\n')) if (line) onLine?.(rank, line);
      });
      child.stderr.on('data', (chunk: Buffer) => (run.stderr += chunk.toString()));
      return new Promise<RankRun>((resolve) => child.on('exit', (code, signal) => resolve({ ...run, code, signal })));
    }),
  );
}

async function freePort(): Promise<number> {
  const { freePort: pick } = await import('../src/train/distributed/launch.js');
  return pick();
}

const lastJson = (text: string) => JSON.parse(text.trim().split('\n').at(-1)!) as Record<string, unknown>;

/** The largest |a - b| / (1 + |b|) over every tensor of two state dumps. */
function worstDifference(a: Record<string, number[]>, b: Record<string, number[]>): number {
  let worst = 0;
  for (const key of Object.keys(b)) b[key].forEach((value, i) => (worst = Math.max(worst, Math.abs(a[key][i] - value) / (1 + Math.abs(value)))));
  return worst;
}

describe('train.distributed collectives', () => {
  it('all-reduces (sum, avg, max), broadcasts and meets at a barrier across two processes', async () => {
    const ranks = await runRanks('test/helpers/collectives-worker.mts', 2, { LATE_MS: '400' });
    for (const run of ranks) assert.equal(run.code, 0, run.stderr);
    const [zero, one] = ranks.map((run) => lastJson(run.stdout));
    for (const seen of [zero, one]) {
      assert.deepEqual(seen.sum, [3, 20]);
      assert.deepEqual(seen.avg, [1.5, 10]);
      assert.deepEqual(seen.max, [1, 0]);
      assert.deepEqual(seen.broadcast, [6, 7], "rank 1's tensor everywhere");
    }
    // Rank 1 joined 400 ms late: rank 0's timers kept firing while its all-reduce waited.
    assert.ok((zero.ticksWhileWaiting as number) >= 10, `the event loop ran during the wait (${zero.ticksWhileWaiting} ticks)`);
  });
});

describe('DistributedDataParallel', () => {
  const worker = async (env: Record<string, string>) => {
    // RANK unset: one process, no process group.
    const child = spawn(process.execPath, ['--import', 'tsx', 'test/helpers/ddp-worker.mts'], { env: { ...process.env, WORLD_SIZE: '1', ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (c: Buffer) => (stdout += c));
    child.stderr.on('data', (c: Buffer) => (stderr += c));
    const code = await new Promise((resolve) => child.on('exit', resolve));
    assert.equal(code, 0, stderr);
    return lastJson(stdout) as { values: Record<string, number[]> };
  };

  it('2 ranks with SyncBatchNorm reach the weights of one process with the same global batch (many small buckets)', async () => {
    const env = { SYNC_BN: '1', STEPS: '5', BUCKET_MB: '0.0002' };
    const reference = await worker(env);
    const ranks = await runRanks('test/helpers/ddp-worker.mts', 2, env);
    for (const run of ranks) assert.equal(run.code, 0, run.stderr);
    const [zero, one] = ranks.map((run) => lastJson(run.stdout) as { values: Record<string, number[]>; buckets: number });
    assert.ok(zero.buckets > 1, `gradients travel in several buckets (${zero.buckets})`);
    assert.deepEqual(one.values, zero.values, 'the replicas stay identical');
    const worst = worstDifference(zero.values, reference.values);
    assert.ok(worst < 1e-5, `2 ranks against 1 process: worst relative difference ${worst}`);
    assert.notDeepEqual(zero.values['conv.weight'], (await worker({ ...env, STEPS: '0' })).values['conv.weight'], 'training moved the weights');
  });

  it('without SyncBatchNorm the replicas still agree, and differ from one process by their per-rank batch statistics', async () => {
    const reference = await worker({ STEPS: '3' });
    const ranks = await runRanks('test/helpers/ddp-worker.mts', 2, { STEPS: '3' });
    const [zero, one] = ranks.map((run) => lastJson(run.stdout) as { values: Record<string, number[]> });
    const parameters = (values: Record<string, number[]>) => Object.fromEntries(Object.entries(values).filter(([key]) => !/running_|num_batches/.test(key)));
    // The running statistics differ until the next forward broadcasts rank 0's (as in PyTorch).
    assert.deepEqual(parameters(one.values), parameters(zero.values), 'the gradients are averaged: the parameters stay identical');
    assert.ok(worstDifference(zero.values, reference.values) > 1e-4, 'BatchNorm saw each rank\'s half of the batch');
  });
});

describe("the DistributedSampler contract", () => {
  it("pads and strides as PyTorch's DistributedSampler (shuffle off), for short and uneven data", () => {
    for (const [n, replicas] of [[10, 3], [2, 5], [8, 2], [7, 4]]) {
      const reference = JSON.parse(
        runPythonCode(
          'import json, sys\nfrom torch.utils.data.distributed import DistributedSampler\nn, r = int(sys.argv[1]), int(sys.argv[2])\n' +
            'print(json.dumps([list(DistributedSampler(range(n), num_replicas=r, rank=k, shuffle=False)) for k in range(r)]))',
          [String(n), String(replicas)],
        ),
      ) as number[][];
      const order = Array.from({ length: n }, (_, i) => i);
      const ours = Array.from({ length: replicas }, (_, rank) => dist.shardIndices(order, { numReplicas: replicas, rank }));
      assert.deepEqual(ours, reference, `n=${n}, ${replicas} replicas`);
      assert.deepEqual(ours.map((shard) => shard.length), ours.map(() => dist.shardLength(n, { numReplicas: replicas, rank: 0 })));
    }
  });

  it('a sharded loader reads every sample once per epoch across the ranks, in a seeded order that changes per epoch', () => {
    // order() never reads a sample.
    const dataset = { length: 10, classes: ['a'], get: () => Promise.reject(new Error('not read')) } as unknown as data.Dataset;
    const loaders = [0, 1].map((rank) => new data.DataLoader(dataset, { batchSize: 2, shuffle: true, seed: 3, shard: { numReplicas: 2, rank } }));
    for (const epoch of [0, 1]) {
      const seen = loaders.flatMap((loader) => loader.order(epoch));
      assert.deepEqual([...seen].sort((a, b) => a - b), Array.from({ length: 10 }, (_, i) => i), `epoch ${epoch}: each sample once`);
      assert.equal(loaders[0].numBatches(), 3, '5 samples per rank in batches of 2');
    }
    assert.notDeepEqual(loaders[0].order(0), loaders[0].order(1), 'a new order each epoch');
    const again = new data.DataLoader(dataset, { batchSize: 2, shuffle: true, seed: 3, shard: { numReplicas: 2, rank: 1 } });
    assert.deepEqual(again.order(1), loaders[1].order(1), 'the order depends only on (seed, epoch, rank)');
    assert.throws(() => new data.DataLoader(dataset, { batchSize: 2, shard: { numReplicas: 2, rank: 2 } }), /rank must be an integer in \[0, 1\], got 2/);
  });
});

describe('rendezvous failures are fast and say what is wrong', () => {
  it('a master port in use', async () => {
    const server: Server = await new Promise((resolve) => {
      const s = createServer().listen(0, '127.0.0.1', () => resolve(s));
    });
    const { port } = server.address() as { port: number };
    const started = performance.now();
    try {
      await assert.rejects(dist.init({ worldSize: 1, rank: 0, masterAddr: '127.0.0.1', masterPort: port, timeoutMs: 20_000 }), new RegExp(`master port ${port} is in use`));
    } finally {
      server.close();
    }
    assert.ok(performance.now() - started < 5000, 'well before the timeout');
    assert.equal(dist.isInitialized(), false);
  });

  it('a master address that does not resolve, or is not this machine for rank 0', async () => {
    await assert.rejects(dist.init({ worldSize: 2, rank: 1, masterAddr: 'no-such-host.invalid', masterPort: 29999 }), /master address 'no-such-host.invalid' does not resolve/);
    await assert.rejects(dist.init({ worldSize: 2, rank: 0, masterAddr: '203.0.113.7', masterPort: 29999 }), /rank 0 serves the rendezvous store, so the master address must be one of this machine's; '203.0.113.7'/);
  });

  it('no rank 0 to meet: the timeout, in seconds, naming the address', async () => {
    const port = await freePort();
    const started = performance.now();
    await assert.rejects(dist.init({ worldSize: 2, rank: 1, masterAddr: '127.0.0.1', masterPort: port, timeoutMs: 1000 }), new RegExp(`rank 1 could not reach the rendezvous store at 127.0.0.1:${port} within 1 s`));
    assert.ok(performance.now() - started < 8000);
  });

  it('bad settings name the option', () => {
    assert.throws(() => dist.resolveInitOptions({ backend: 'nccl' as 'gloo', worldSize: 1, rank: 0 }), /backend 'nccl' is not available/);
    assert.throws(() => dist.resolveInitOptions({ worldSize: 2, rank: 2 }), /rank must be in \[0, 1\] for a world of 2, got 2/);
    assert.throws(() => dist.resolveInitOptions({}, {}), /worldSize is not set \(give it, or set the WORLD_SIZE environment variable\)/);
    assert.throws(() => dist.resolveInitOptions({ worldSize: 1, rank: 0, masterPort: 70000 }), /masterPort must be in \[1, 65535\]/);
    assert.deepEqual(dist.resolveInitOptions({}, { WORLD_SIZE: '4', RANK: '3', MASTER_ADDR: 'h', MASTER_PORT: '1234' }), { backend: 'gloo', worldSize: 4, rank: 3, masterAddr: 'h', masterPort: 1234, timeoutMs: 30_000 });
  });
});

describe('a rank that dies', () => {
  for (const victim of [1, 0]) {
    it(`killed with SIGKILL (rank ${victim}): the survivor stops within the timeout, naming it`, async () => {
      const pids = new Map<number, number>();
      let killedAt = 0;
      // A kill closes the connection at once: the survivor's next collective fails well before the timeout.
      const ranks = await runRanks('test/helpers/collectives-worker.mts', 2, { MODE: 'loop', TIMEOUT_MS: '20000' }, (rank, line) => {
        const ready = /^ready (\d+) pid (\d+)/.exec(line);
        if (ready) pids.set(rank, Number(ready[2]));
        if (pids.size === 2 && killedAt === 0) {
          killedAt = performance.now();
          setTimeout(() => process.kill(pids.get(victim)!, 'SIGKILL'), 300);
        }
      });
      const survivor = ranks[1 - victim];
      assert.equal(ranks[victim].signal, 'SIGKILL');
      assert.equal(survivor.code, 3, survivor.stderr);
      const report = lastJson(survivor.stdout);
      assert.equal(report.name, 'RankFailureError');
      assert.deepEqual(report.ranks, [victim]);
      assert.match(report.message as string, new RegExp(`rank ${victim} `));
      assert.ok((report.failedAfter as number) > 0, 'collectives ran before the kill');
      assert.ok(performance.now() - killedAt < 300 + 1500 + 6000, 'within the roll call of the kill, far below the 20 s timeout');
    });
  }
});
