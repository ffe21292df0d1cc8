// One rank exercising the process group, for test/distributed.test.ts and the
// two-namespace test: rendezvous from the torchrun variables, all-reduce (sum, avg, max),
// broadcast from rank 1, a barrier; prints what it saw as JSON. With MODE=loop it
// all-reduces every 50 ms until a collective fails, then prints the failure described
// (which rank left) and exits 3. With LATE_MS, rank 1 joins its first all-reduce late and
// rank 0 counts how many timer ticks its event loop ran while waiting.
import { torch, train } from '../../src/index.js';

const dist = train.distributed;
const started = performance.now();
const group = await dist.init({ timeoutMs: Number(process.env.TIMEOUT_MS ?? 60_000) });
const initMs = performance.now() - started;
const values = (t: torch.Tensor) => Array.from(t.toTypedArray() as Float32Array);

if (process.env.MODE === 'loop') {
  const t = torch.ones([1024]);
  process.stdout.write(`ready ${group.rank} pid ${process.pid}\n`);
  for (let i = 0; ; i++) {
    try {
      dist.allReduceSync(t, 'avg');
    } catch (error) {
      const described = await dist.describeFailure(error, { windowMs: 1500 });
      process.stdout.write(`${JSON.stringify({ rank: group.rank, failedAfter: i, name: (described as Error).name, message: (described as Error).message, ranks: (described as { ranks?: number[] }).ranks })}\n`);
      process.exit(3);
    }
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

const late = Number(process.env.LATE_MS ?? 0);
if (late > 0 && group.rank === 1) await new Promise((resolve) => setTimeout(resolve, late));
let ticks = 0;
const ticker = setInterval(() => ticks++, 10);
const sum = torch.tensor(new Float32Array([group.rank + 1, 10]));
await dist.allReduce(sum, 'sum');
clearInterval(ticker);
const avg = torch.tensor(new Float32Array([group.rank + 1, 10]));
await dist.allReduce(avg, 'avg');
const max = torch.tensor(new Float32Array([group.rank, -group.rank]));
await dist.allReduce(max, 'max');
const root = group.worldSize > 1 ? 1 : 0;
const shared = torch.tensor(new Float32Array([group.rank * 5 + 1, 7]));
await dist.broadcast(shared, root);
await dist.barrier();
process.stdout.write(`${JSON.stringify({ rank: group.rank, worldSize: group.worldSize, initMs, sum: values(sum), avg: values(avg), max: values(max), broadcast: values(shared), ticksWhileWaiting: ticks })}\n`);
dist.destroy();
