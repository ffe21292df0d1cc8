import { createModelByName } from './src/models/index.js';
import { DnnlInference } from './src/tools/dnnl/inference.js';
import { prepareForInference } from './src/tools/inference-modes.js';
import { InferenceTimer, median } from './src/tools/bench.js';
import { setNumThreads } from './src/torch/runtime.js';
setNumThreads(2);
const build = () => { const m = createModelByName('resnet50' as never, {} as never) as any; m.eval(); return m; };
const variants: [string, any][] = [
  ['mkldnn', prepareForInference(build(), { fuse: true, layout: 'mkldnn' })],
  ['dnnl-direct', new DnnlInference(build(), { convAlgorithm: 'direct' })],
  ['dnnl-wino', new DnnlInference(build(), { convAlgorithm: 'winograd' })],
  ['dnnl-auto', new DnnlInference(build(), { convAlgorithm: 'auto' })],
  ['dnnl-bf16', new DnnlInference(build(), { precision: 'bf16' })],
];
for (const bs of [1, 8]) {
  const timers = variants.map(([n, m]) => [n, new InferenceTimer(m, { batchSize: bs, size: 224 })] as const);
  for (const [, t] of timers) t.time(2);
  const times = new Map<string, number[]>();
  for (let r = 0; r < (bs === 1 ? 10 : 5); r++) for (const [n, t] of timers) times.set(n, [...(times.get(n) ?? []), ...t.time(1)]);
  for (const [n, ts] of times) console.log(bs, n, (bs * 1000 / median(ts)).toFixed(1), 'img/s');
}
const d = variants[2][1] as DnnlInference;
console.log(d.describe([8,3,224,224]).steps.filter(s => /wino|reorder/.test(s.impl + s.name)).slice(0, 40));
