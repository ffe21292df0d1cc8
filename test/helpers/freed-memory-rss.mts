// Resident memory (MB) while 256 MB of 1 MB tensors are held and after they are freed,
// for three rounds, as JSON; with `retain` as argument, after torch.retainFreedMemory().
import { torch } from '../../src/index.js';

const retained = process.argv[2] === 'retain' ? torch.retainFreedMemory() : false;
const rss = () => process.memoryUsage().rss / 2 ** 20;
const rounds = Array.from({ length: 3 }, () => {
  const tensors = Array.from({ length: 256 }, () => torch.full([1 << 18], 1, { dtype: 'float32' }));
  const held = rss();
  torch.dispose(tensors);
  return { held, afterFree: rss() };
});
console.log(JSON.stringify({ retained, rounds }));
