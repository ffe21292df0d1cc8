// Calls every native entry point with malformed arguments. Run as its own process by
// test/engine-errors.test.ts: a crash shows up as a signal or a non-zero exit there.
// Prints one JSON line: how many calls ran and any failure that was not a clean Error.
import { native } from '../../src/native.js';
import { foreignAddon } from './foreign-external.js';

type Make = () => unknown;

// Fresh tensors for every call: some entry points dispose or modify their arguments.
const float = (): unknown => native.randn([2, 3], 6, undefined);
const long = (): unknown => native.arange(0, 3, 1, 4, undefined);
const scalar0d = (): unknown => native.zeros([], 6, undefined);
const emptyRows = (): unknown => native.zeros([0, 3], 6, undefined);
const image = (): unknown => native.rand([1, 2, 4, 4], 6, undefined);
// oneDNN's opaque layout (no strides, no data pointer), where the addon offers it.
const opaque = (): unknown => (native.toMkldnn ? native.toMkldnn(native.rand([1, 2, 4, 4], 6, undefined)) : image());
const disposed = (): unknown => {
  const t = native.ones([2], 6, undefined);
  native.dispose(t);
  return t;
};

// Externals made by another addon: handles only by their looks.
const foreign = foreignAddon();
const nullExternal = (): unknown => foreign.nullExternal();
const zeroExternal = (): unknown => foreign.zeroExternal();
const garbageExternal = (): unknown => foreign.garbageExternal();

const value = (v: unknown): Make => () => v;
const argumentLists: Make[][] = [
  [],
  [nullExternal],
  [zeroExternal, float],
  [float, garbageExternal],
  [() => [float(), zeroExternal()], value(0)],
  [value(undefined), value(undefined), value(undefined)],
  [value(null)],
  [value(3)],
  [value(-1)],
  [value('cpu')],
  [value({})],
  [float],
  [disposed],
  [disposed, float],
  [float, disposed],
  [float, float],
  [opaque],
  [image, opaque, value(null), value([1, 1]), value([1, 1]), value([1, 1]), value(1)],
  [opaque, value([2, 2]), value([2, 2]), value([0, 0]), value([1, 1]), value(false)],
  [float, long],
  [float, float, float, float, float, float, float, float, float, float],
  [float, value(1)],
  [float, value(-5)],
  [float, value(1e12)],
  [float, value(NaN)],
  [float, value(Infinity)],
  [float, value(2.5)],
  [float, value('x')],
  [float, value([1, 2])],
  [float, value([-1, -1])],
  [float, value([1e12, 1e12])],
  [float, () => [float()]],
  [() => [float(), long()], value(0)],
  [() => [float(), emptyRows()], value(1)],
  [() => [float(), disposed()], value(0)],
  [value([]), value(0)],
  [scalar0d, value(0), value(0), value(0), value(0)],
  [emptyRows, value(0), value(1), value(true)],
  [emptyRows, value(1), value(true)],
  [image, image, value(null), value([1, 1]), value([1, 1]), value([1, 1]), value(1)],
  [image, value([2, 2]), value([2, 2]), value([0, 0]), value([1, 1]), value(false)],
  [image, value([9, 9]), value([1, 1]), value([5, 5]), value([0, 0]), value(false), value(true)],
  [image, value(null), value(null), value(null), value(null), value(true), value(0.1), value(1e-5)],
  [long, long, value(undefined), value(1), value(-100), value(0)],
  [() => [float()], () => [float(), float()], () => [float()], value(0.1), value(0.9), value(0), value([0]), value(false), value(true)],
  [() => [float(), float()], () => [float()], () => [float()], () => [float()], value(1), value(0.1), value(0.9), value(0.999), value(1e-8), value([0, 0])],
  [value([3]), value(12)],
  [value([3]), value(9)],
  [value([3]), value(99)],
  [value([3]), value(6), value('cuda')],
  [value([3]), value(6), value('nonsense')],
  [value(0), value(1e12), value(1)],
  [value(new Float32Array(3)), value(6), value([4])],
  [value(new Float32Array(4)), value(6), value([-2, -2])],
  [value([1, 2, 3]), value(6), value([3])],
];

// Entry points that change process-wide settings get them restored after each call.
const threads = native.getNumThreads();
let calls = 0;
const failures: string[] = [];
for (const name of Object.keys(native).sort()) {
  for (const list of argumentLists) {
    const args = list.map((make) => make());
    calls++;
    try {
      native[name](...args);
    } catch (error) {
      const message = error instanceof Error ? error.message : '';
      if (!(error instanceof Error) || message.length === 0 || /Exception raised from|frame #\d/.test(message)) {
        failures.push(`${name}(${list.length} args): ${String(error).slice(0, 300)}`);
      }
    } finally {
      native.setGradEnabled(true);
      // Setting the count rebuilds libtorch's thread pool, so only when it changed.
      if (native.getNumThreads() !== threads) native.setNumThreads(threads);
    }
  }
}
// The process must still compute correctly afterwards.
const sum = native.item(native.sum(native.add(native.ones([4], 6, undefined), 1), undefined, false, undefined));
if (sum !== 8) failures.push(`ones(4) + 1 summed to ${sum} after the calls`);
console.log(JSON.stringify({ calls, failures }));
