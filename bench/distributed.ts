// Data-parallel scaling on one machine: 1 process x 2 threads against 2 processes x 1
// thread (DistributedDataParallel over Gloo on loopback), and 1 x 1 for scale, alternating so a change in the
// machine's load hits both, for ResNet-20 on Fashion-MNIST (the training loader, crops
// and flips, each rank its shard) and resnet18 at 64x64 (synthetic batches); the
// all-reduce time per step against the backward time; and the bucket size's effect.
//
//   nice -n 10 node --import tsx bench/distributed.ts [--repeats 2] [--only resnet20-fmnist,resnet18-64] [--buckets 1,25,100] [--json]
import { execFileSync, spawn } from 'node:child_process';
import { loadavg } from 'node:os';
import { parseArgs } from 'node:util';
import { freePort } from '../src/train/distributed/launch.js';

const { values: args } = parseArgs({
  options: {
    repeats: { type: 'string', default: '2' },
    only: { type: 'string' },
    buckets: { type: 'string', default: '1,25,100' },
    json: { type: 'boolean', default: false },
  },
});

interface Case {
  name: string;
  batch: number;
  steps: number;
}
const cases: Case[] = [
  { name: 'resnet20-fmnist', batch: 64, steps: 20 },
  { name: 'resnet18-64', batch: 32, steps: 8 },
].filter((c) => !args.only || args.only.split(',').includes(c.name));

type Result = Record<string, number | string | undefined>;

/** Runs the worker as `world` processes of `threads` threads each; rank 0's JSON. */
async function run(c: Case, world: number, threads: number, bucketMb = 25): Promise<Result> {
  const port = await freePort();
  const outputs = await Promise.all(
    Array.from({ length: world }, (_, rank) => {
      const env: NodeJS.ProcessEnv = { ...process.env, CASE: c.name, BATCH: String(c.batch), STEPS: String(c.steps), RESNETS_NUM_THREADS: String(threads), OMP_NUM_THREADS: String(threads), BUCKET_MB: String(bucketMb) };
      if (world > 1) Object.assign(env, { WORLD_SIZE: String(world), RANK: String(rank), MASTER_ADDR: '127.0.0.1', MASTER_PORT: String(port) });
      const child = spawn(process.execPath, ['--import', 'tsx', 'bench/distributed-worker.ts'], { env, stdio: ['ignore', 'pipe', 'inherit'] });
      let stdout = '';
      child.stdout.on('data', (chunk: Buffer) => (stdout += chunk));
      return new Promise<string>((resolve, reject) => child.on('exit', (code) => (code === 0 ? resolve(stdout) : reject(new Error(`${c.name} world ${world}: exit ${code}`)))));
    }),
  );
  return JSON.parse(outputs[0].trim()) as Result;
}

const median = (values: number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)];
const cpu = execFileSync('lscpu', { encoding: 'utf8' });
const model = /Model name:\s*(.*)/.exec(cpu)?.[1] ?? 'unknown CPU';
const flags = (/Flags:\s*(.*)/.exec(cpu)?.[1] ?? '').split(' ').filter((f) => /^(avx2|avx512f|avx512_bf16|amx_bf16|amx_tile)$/.test(f));
const loadBefore = loadavg()[0];

const report: Record<string, unknown>[] = [];
for (const c of cases) {
  const single: Result[] = [];
  const pair: Result[] = [];
  const alone: Result[] = [];
  for (let r = 0; r < Number(args.repeats); r++) {
    single.push(await run(c, 1, 2));
    pair.push(await run(c, 2, 1));
    alone.push(await run(c, 1, 1));
  }
  const ips1 = median(single.map((x) => x.imagesPerSecond as number));
  const ips2 = median(pair.map((x) => x.imagesPerSecond as number));
  const pick = (key: string) => median(pair.map((x) => x[key] as number));
  const buckets: Record<string, unknown>[] = [];
  if (c.name === 'resnet18-64') {
    for (const mb of args.buckets!.split(',').map(Number)) {
      const result = await run(c, 2, 1, mb);
      buckets.push({ bucketMb: mb, buckets: result.buckets, backwardMs: result.backwardMs, backwardNoSyncMs: result.backwardNoSyncMs, imagesPerSecond: result.imagesPerSecond });
    }
  }
  report.push({
    case: c.name,
    globalBatch: c.batch,
    '1x2 images/s': ips1,
    '2x1 images/s': ips2,
    ratio: ips2 / ips1,
    '1x1 images/s': median(alone.map((x) => x.imagesPerSecond as number)),
    'backward ms (DDP, overlapped)': pick('backwardMs'),
    'backward ms (noSync, compute only)': pick('backwardNoSyncMs'),
    'all-reduce ms alone': pick('allReduceMs'),
    'forward ms': pick('forwardMs'),
    'gradient MiB': pair[0].gradientMiB,
    'DDP buckets': pair[0].buckets,
    runs: { '1x2': single.map((x) => x.imagesPerSecond), '2x1': pair.map((x) => x.imagesPerSecond), '1x1': alone.map((x) => x.imagesPerSecond) },
    ...(buckets.length ? { bucketSweep: buckets } : {}),
  });
}
const header = { cpu: model, flags, cores: execFileSync('nproc', { encoding: 'utf8' }).trim(), loadBefore, loadAfter: loadavg()[0], command: process.argv.slice(1).join(' ') };
if (args.json) {
  console.log(JSON.stringify({ ...header, report }, null, 2));
} else {
  console.log(`${header.cpu} (${header.flags.join(' ')}), ${header.cores} cores, load ${loadBefore.toFixed(2)} -> ${header.loadAfter.toFixed(2)}`);
  for (const row of report) console.log(JSON.stringify(row));
}
