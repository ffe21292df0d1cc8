// Writes what the web page serves beside its code, into web/public/ (or --out DIR):
//   generated/models.json, generated/<model>.svg and .summary.json: every registered
//     model's block diagram and layer summary, for the page's "Models" view;
//   models/index.json and models/<name>.onnx: exported models the page runs (--export);
// Usage: tsx scripts/web-assets.ts [--out DIR] [--models PATTERN] [--export MODEL[=WEIGHTS]]...
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { basename, join } from 'node:path';
import { parseArgs } from 'node:util';
import { buildModel, loadForPrediction, modelInfo, type ImageModel } from '../src/cli/model-loading.js';
import { getModelInfo, listModels } from '../src/models/index.js';
import { saveOnnx } from '../src/tools/onnx/export.js';
import { modelDot, renderDot } from '../src/tools/plot/plot.js';
import { summarize } from '../src/tools/summary.js';
import { zeros } from '../src/torch/creation.js';
import { noGrad } from '../src/torch/runtime.js';
import { tidy } from '../src/torch/scope.js';

const { values } = parseArgs({
  options: {
    out: { type: 'string', default: 'web/public' },
    models: { type: 'string' },
    export: { type: 'string', multiple: true, default: [] },
  },
});
const out = values.out!;

async function writeDiagrams(): Promise<void> {
  const dir = join(out, 'generated');
  mkdirSync(dir, { recursive: true });
  const names = listModels(values.models);
  const entries = [];
  for (const name of names) {
    const info = getModelInfo(name);
    const input = [1, ...info.defaultInputSize];
    const model = buildModel(name, { init: false });
    try {
      writeFileSync(join(dir, `${name}.svg`), await renderDot(modelDot(model, { input, depth: 'block', title: name })));
      const summary = summarize(model, input);
      writeFileSync(join(dir, `${name}.summary.json`), JSON.stringify(summary));
      entries.push({ name, family: info.family, paper: info.paper, input, params: summary.totalParams, macs: summary.macs });
    } finally {
      model.dispose();
    }
    process.stderr.write(`web-assets: ${name}\n`);
  }
  writeFileSync(join(dir, 'models.json'), JSON.stringify(entries, null, 1));
}

/** MODEL=WEIGHTS: exported with a dynamic batch, with its preprocessing and class names in models/index.json. */
function exportModels(): void {
  if (values.export!.length === 0) return;
  const dir = join(out, 'models');
  mkdirSync(dir, { recursive: true });
  const indexFile = join(dir, 'index.json');
  const index: { name: string }[] = existsSync(indexFile) ? JSON.parse(readFileSync(indexFile, 'utf8')) : [];
  for (const spec of values.export!) {
    const [name, weights] = spec.split('=');
    modelInfo(name);
    if (!weights) throw new Error(`--export ${spec}: give the weights as MODEL=WEIGHTS (a file or a name such as IMAGENET1K_V2)`);
    const { model, preprocess, classNames } = loadForPrediction(name, weights, { embeddings: true });
    try {
      model.eval();
      const file = `${name}.onnx`;
      const input = [1, preprocess.channels, preprocess.size, preprocess.size];
      saveOnnx(model, join(dir, file), { input, dynamicBatch: true });
      const classes = classNames ?? Array.from({ length: outputSize(model, input) }, (_, i) => String(i));
      const entry = {
        name,
        file,
        weights: basename(weights),
        kind: isEmbeddingModel(name) ? 'embedding' : 'classifier',
        input: input.slice(1),
        resize: Math.floor(preprocess.size / preprocess.cropPct),
        crop: preprocess.size,
        mean: preprocess.mean,
        std: preprocess.std,
        classes,
      };
      const at = index.findIndex((existing) => existing.name === name);
      if (at >= 0) index[at] = entry;
      else index.push(entry);
    } finally {
      model.dispose();
    }
  }
  writeFileSync(indexFile, JSON.stringify(index, null, 1));
}

/** Face-recognition models return an embedding to compare, not class scores. */
function isEmbeddingModel(name: string): boolean {
  return getModelInfo(name).kind === 'embedding';
}

/** Logits (or embedding) size of a model: one forward on zeros. */
function outputSize(model: ImageModel, input: number[]): number {
  return tidy(() => noGrad(() => model.call(zeros(input)).shape[1]));
}

exportModels();
await writeDiagrams();
