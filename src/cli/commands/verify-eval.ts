// `resnets verify-eval MODEL --weights FILE --pairs FILE`: face verification on a pair
// list by LFW's protocol as InsightFace's verification.py runs it (10 folds, the best
// threshold chosen on nine and scored on the tenth), TAR at FAR 1e-3 and 1e-4, and the
// ROC curve as an SVG.
import { basename } from 'node:path';
import type { Command } from 'commander';
import { readFacePairs } from '../../data/face-pairs.js';
import { writeFileAtomic } from '../../io/atomic.js';
import { verifyEmbeddingPairs } from '../../tools/face-embedding.js';
import { renderRoc } from '../../train/roc-svg.js';
import { exactRoc, type VerificationResult } from '../../train/verification.js';
import { embedImages, loadEmbedder } from '../embedding-loading.js';
import { parsePositiveInt, modelOptionsHelp, parseModelOptions } from '../options.js';

interface VerifyEvalOptions {
  weights: string;
  modelOptions?: Record<string, unknown>;
  pairs: string;
  images?: string;
  flip: boolean;
  folds: number;
  batchSize: number;
  roc?: string;
  json?: boolean;
}

const percent = (value: number) => `${(value * 100).toFixed(2)}%`;

/** The report's lines: accuracy, thresholds and TAR at each FAR. */
export function formatVerification(result: VerificationResult, title: string): string[] {
  const meanThreshold = result.foldThresholds.reduce((a, b) => a + b, 0) / result.folds;
  const lines = [
    `${title}: ${result.pairs} pairs (${result.samePairs} same, ${result.pairs - result.samePairs} different), ${result.folds} folds`,
    `accuracy ${percent(result.accuracy)} ± ${percent(result.accuracyStd)} (mean ± std over the folds)`,
    `threshold: squared distance ${meanThreshold.toFixed(3)} (cosine ${(1 - meanThreshold / 2).toFixed(3)}), the mean of the folds' best`,
  ];
  for (const { farTarget, tar, tarStd, far } of result.tarAtFar) {
    lines.push(`TAR @ FAR ${farTarget.toExponential(0)}: ${percent(tar)} ± ${percent(tarStd)} (FAR reached on the test folds ${far.toExponential(2)})`);
  }
  return lines;
}

export function register(program: Command): void {
  program
    .command('verify-eval')
    .description("Face verification accuracy on a pair list (LFW's pairs.txt or an InsightFace .bin) by LFW's 10-fold protocol, with TAR at FAR 1e-3 and 1e-4 and a ROC curve")
    .argument('<model>', "an embedding model (fresnet*, iresnet*) or the model of a 'resnets train --loss' run")
    .requiredOption('--weights <file>', "weights: an embedding model's checkpoint (.pth, .safetensors, MXNet .params), or a 'resnets train --loss' run's best/last.safetensors")
    .option('--model-options <json>', modelOptionsHelp, parseModelOptions)
    .requiredOption('--pairs <file>', "LFW's pairs.txt (with --images) or an InsightFace evaluation .bin (lfw.bin, cfp_fp.bin, agedb_30.bin)")
    .option('--images <dir>', 'pairs.txt: the folder with one sub-folder of <name>_<nnnn>.jpg images per person')
    .option('--no-flip', "embed each image alone (by default the mirrored image's embedding is added, InsightFace's 'Accuracy-Flip')")
    .option('--folds <n>', 'folds of the protocol', parsePositiveInt, 10)
    .option('--batch-size <n>', 'images embedded together', parsePositiveInt, 64)
    .option('--roc <file>', 'write the ROC curve (TAR against FAR, log scale) as an SVG')
    .option('--json', 'print the full result (per-fold accuracies and thresholds, TAR at FAR, ROC points) as JSON')
    .action(async (name: string, options: VerifyEvalOptions) => {
      const pairs = readFacePairs(options.pairs, options.images);
      if (pairs.skipped > 0) console.error(`note: ${pairs.skipped} pairs skipped because an image is missing (as facenet's lfw.get_paths does)`);
      const embedder = loadEmbedder(name, options.weights, options.modelOptions);
      let embedded: { values: Float32Array; dim: number };
      try {
        embedded = await embedImages(embedder, pairs.images, { flip: options.flip, batchSize: options.batchSize });
      } finally {
        embedder.dispose();
      }
      const { result, distances } = verifyEmbeddingPairs(embedded.values, embedded.dim, pairs.same, { folds: options.folds });
      const title = `${name} on ${basename(options.pairs)}`;
      if (options.roc) {
        const roc = exactRoc(distances, pairs.same);
        const marks = result.tarAtFar.map(({ farTarget, tar }) => ({ far: farTarget, tar }));
        const subtitle = `accuracy ${percent(result.accuracy)} ± ${percent(result.accuracyStd)}; ${result.tarAtFar.map((t) => `TAR@FAR ${t.farTarget.toExponential(0)} ${percent(t.tar)}`).join(', ')}`;
        writeFileAtomic(options.roc, new TextEncoder().encode(renderRoc([{ name, ...roc, marks }], title, subtitle)));
      }
      if (options.json) {
        console.log(JSON.stringify({ model: name, pairsFile: options.pairs, flip: options.flip, ...result }));
        return;
      }
      for (const line of formatVerification(result, title)) console.log(line);
      if (options.roc) console.log(`ROC curve written to ${options.roc}`);
    });
}
