// Per-op overhead against PyTorch eager, both measured in this run with the same
// thread count: tiny adds, a chain of 64x64 matmuls recorded by autograd, and the
// same chain under noGrad. Each workload is warmed up, then our runs alternate with
// PyTorch's (kept running in a child process) so both see the same machine load;
// the table gives the median of the runs, in wall-clock time and in process CPU time
// (the steadier figure on a shared machine, where waiting for a core inflates wall time).
//
// Usage: npx tsx bench/overhead.ts [--threads 1] [--adds 10000] [--matmuls 2000] [--runs 5] [--json]
import { spawn } from 'node:child_process';
import { dirname, join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { torch } from '../src/index.js';
import { describeCpu } from '../src/torch/cpu-features.js';

const { values: flags } = parseArgs({
  options: {
    threads: { type: 'string', default: '1' },
    adds: { type: 'string', default: '10000' },
    matmuls: { type: 'string', default: '2000' },
    runs: { type: 'string', default: '5' },
    json: { type: 'boolean', default: false },
  },
});
const threads = Number(flags.threads);
const adds = Number(flags.adds);
const matmuls = Number(flags.matmuls);
const runs = Number(flags.runs);

// ---- PyTorch, in a child process that runs one workload per request ----
const python = process.env.RESNETS_PYTHON ?? '/usr/bin/python3';
const script = join(dirname(fileURLToPath(import.meta.url)), 'overhead.py');
const child = spawn(python, [script, '--threads', String(threads), '--adds', String(adds), '--matmuls', String(matmuls)], {
  env: { ...process.env, OMP_NUM_THREADS: String(threads) },
  stdio: ['pipe', 'pipe', 'inherit'],
});
const replies = createInterface({ input: child.stdout })[Symbol.asyncIterator]();
async function nextReply(): Promise<string> {
  const reply = await replies.next();
  if (reply.done) throw new Error('the PyTorch side of the benchmark exited early');
  return reply.value;
}
interface Sample {
  wall: number;
  cpu: number;
}
async function pytorchRun(workload: string): Promise<Sample> {
  child.stdin.write(`${workload}\n`);
  const [wall, cpu] = (await nextReply()).split(' ').map(Number);
  return { wall, cpu };
}
const [, pytorchThreads, pytorchVersion] = (await nextReply()).split(' ');

// ---- our workloads; each returns its op count ----
torch.setNumThreads(threads);
const a = torch.ones([1]);
const b = torch.ones([1]);

// The two ways users free results: dispose() each one, or tidy() around a chunk of work.
function addDisposed(): number {
  for (let i = 0; i < adds; i++) a.add(b).dispose();
  return adds;
}
const TIDY_CHUNK = 100;
function addTidy(): number {
  for (let i = 0; i < adds; i += TIDY_CHUNK) {
    torch.tidy(() => {
      for (let j = 0; j < TIDY_CHUNK; j++) a.add(b);
    });
  }
  return adds;
}

// A permutation matrix keeps every value of the chain exactly bounded. Each link is
// disposed once the next exists, as Python's reference counting frees it; holding all
// 2,000 links until a scope ends would measure cache misses instead of overhead.
const weight = torch.tidy(() => torch.eye(64).indexSelect(0, torch.randperm(64))).requiresGrad_();
const start = torch.randn([64, 64]);
function matmul(): number {
  let x = start.matmul(weight);
  for (let i = 1; i < matmuls; i++) {
    const next = x.matmul(weight);
    x.dispose();
    x = next;
  }
  x.dispose();
  return matmuls;
}
const matmulNoGrad = (): number => torch.noGrad(matmul);

function oursRun(fn: () => number): Sample {
  const cpuStarted = process.cpuUsage();
  const started = process.hrtime.bigint();
  const ops = fn();
  const wall = Number(process.hrtime.bigint() - started) / 1e3;
  const cpu = process.cpuUsage(cpuStarted);
  return { wall: wall / ops, cpu: (cpu.user + cpu.system) / ops };
}

const median = (samples: number[]): number => [...samples].sort((x, y) => x - y)[Math.floor(samples.length / 2)];

interface Row {
  workload: string;
  ours: Sample;
  pytorch: Sample;
}
async function compare(workload: string, ours: () => number, pytorchWorkload: string): Promise<Row> {
  oursRun(ours);
  await pytorchRun(pytorchWorkload);
  const mine: Sample[] = [];
  const theirs: Sample[] = [];
  for (let i = 0; i < runs; i++) {
    mine.push(oursRun(ours));
    theirs.push(await pytorchRun(pytorchWorkload));
  }
  const summary = (samples: Sample[]): Sample => ({ wall: median(samples.map((s) => s.wall)), cpu: median(samples.map((s) => s.cpu)) });
  return { workload, ours: summary(mine), pytorch: summary(theirs) };
}

const rows: Row[] = [
  await compare(`add of 1-element tensors, each result dispose()d (${adds} ops)`, addDisposed, 'add'),
  await compare(`add of 1-element tensors, tidy() per ${TIDY_CHUNK} ops (${adds} ops)`, addTidy, 'add'),
  await compare(`64x64 matmul chain, autograd recording (${matmuls} ops)`, matmul, 'matmul'),
  await compare(`64x64 matmul chain, noGrad (${matmuls} ops)`, matmulNoGrad, 'matmulNoGrad'),
];
child.stdin.end();

if (flags.json) {
  const withRatios = rows.map((row) => ({ ...row, ratio: { wall: row.ours.wall / row.pytorch.wall, cpu: row.ours.cpu / row.pytorch.cpu } }));
  console.log(JSON.stringify({ cpu: describeCpu(), threads, runs, libtorch: torch.version, pytorch: pytorchVersion, rows: withRatios }, null, 2));
} else {
  console.log(describeCpu());
  console.log(`threads: ours ${torch.getNumThreads()}, PyTorch ${pytorchThreads}; median of ${runs} alternating runs after a warm-up; libtorch ${torch.version}, PyTorch ${pytorchVersion}`);
  console.log('| workload | ours µs/op wall (CPU) | PyTorch µs/op wall (CPU) | ours / PyTorch wall (CPU) |');
  console.log('| --- | ---: | ---: | ---: |');
  const pair = (wall: number, cpu: number): string => `${wall.toFixed(2)} (${cpu.toFixed(2)})`;
  for (const { workload, ours, pytorch } of rows) {
    console.log(`| ${workload} | ${pair(ours.wall, ours.cpu)} | ${pair(pytorch.wall, pytorch.cpu)} | ${pair(ours.wall / pytorch.wall, ours.cpu / pytorch.cpu)} |`);
  }
}
