// `resnets predict MODEL --weights FILE IMAGE...`: the top classes of each image.
import type { Command } from 'commander';
import { noGrad } from '../../torch/runtime.js';
import { tidy } from '../../torch/scope.js';
import type { Tensor } from '../../torch/tensor.js';
import { assertFiniteOutput } from '../../train/evaluate.js';
import { refuseEmbeddingRun, trainedWeightsInfo } from '../../train/trained-model.js';
import { readLabels } from '../labels.js';
import { loadForPrediction } from '../model-loading.js';
import { parseFraction, parsePositiveInt, precisionOption, registeredModelOptionsHelp, parseModelOptions } from '../options.js';
import { prepareForInference, type Precision } from '../../tools/inference-modes.js';
import { imagesBatch, preprocessImage, type PreprocessOptions } from '../preprocess-image.js';
import type { Image } from '../../data/image.js';
import { oneLine } from '../errors.js';

interface PredictOptions {
  modelOptions?: Record<string, unknown>;
  weights: string;
  numClasses?: number;
  labels?: string;
  top: number;
  size?: number;
  cropPct?: number;
  json?: boolean;
  precision: Precision;
}

interface Prediction {
  index: number;
  label: string;
  probability: number;
}

/** Images decoded and run together; bounds memory for long file lists. */
const BATCH = 16;

/** Top-k of softmax(logits) for each row of a [batch, classes] logits tensor. */
function topClasses(logits: Tensor, k: number, labels: string[] | undefined): Prediction[][] {
  return tidy(() => {
    const { values, indices } = logits.softmax(1).topk(k, 1);
    const probabilities = values.toArray() as number[][];
    const classes = indices.toArray() as number[][];
    return classes.map((row, image) =>
      row.map((index, rank) => ({ index, label: labels?.[index] ?? String(index), probability: probabilities[image][rank] })),
    );
  });
}

export function register(program: Command): void {
  program
    .command('predict')
    .description("Classify images: decode, resize, centre-crop, normalise with the model's mean and std, print the top classes")
    .argument('<model>', "model name (see 'resnets list')")
    .argument('<images...>', 'image files (JPEG, PNG, WebP, ...)')
    .requiredOption('--weights <file|name>', "weights: a pretrained checkpoint by name (IMAGENET1K_V2, DEFAULT; see 'resnets weights list'), a training run's best/last.safetensors (model, input size and class names come with it), or any state dict (.pth/.pt, .safetensors)")
    .option('--num-classes <n>', "classifier size (default: read from the checkpoint's classifier weight)", parsePositiveInt)
    .option('--model-options <json>', registeredModelOptionsHelp, parseModelOptions)
    .option('--labels <file>', "class names: one per line, or a JSON array (default: the training run's classes, else class indices)")
    .option('--top <k>', 'how many classes to print per image', parsePositiveInt, 5)
    .option('--size <n>', "crop size (default: the model's input size)", parsePositiveInt)
    .option('--crop-pct <fraction>', 'centre-crop fraction: the short side is resized to size / crop-pct', parseFraction)
    .option('--json', 'print a JSON array with one { image, predictions } entry per image ({ image, error } for one that cannot be read)')
    .addOption(precisionOption())
    .action(async (name: string, images: string[], options: PredictOptions) => {
      const { model: loaded, preprocess, classNames } = loadForPrediction(name, options.weights, options);
      const model = options.precision === 'fp32' ? loaded : prepareForInference(loaded, { precision: options.precision });
      const labels = options.labels ? readLabels(options.labels) : classNames;
      const results: { image: string; predictions?: Prediction[]; error?: string }[] = [];
      try {
        model.eval();
        for (let start = 0; start < images.length; start += BATCH) {
          // An image that cannot be read is reported in its place; the others are still answered.
          const chunk: string[] = [];
          const decoded: Image[] = [];
          for (const image of images.slice(start, start + BATCH)) {
            try {
              decoded.push(await preprocessImage(image, preprocess));
              chunk.push(image);
            } catch (error) {
              results.push({ image, error: oneLine((error as Error).message) });
            }
          }
          if (decoded.length === 0) continue;
          const batch = imagesBatch(decoded, preprocess);
          try {
            const top = tidy(() => {
              const logits = noGrad(() => model.call(batch));
              if (logits.ndim !== 2) throw new Error(`${name} returned shape [${logits.shape.join(', ')}], not [batch, classes] logits`);
              assertFiniteOutput(logits, chunk.length === 1 ? chunk[0] : `the images ${chunk[0]} to ${chunk[chunk.length - 1]}`);
              const classes = logits.shape[1];
              if (labels && labels.length !== classes) throw new Error(`the labels file has ${labels.length} names, the model has ${classes} classes`);
              return topClasses(logits, Math.min(options.top, classes), labels);
            });
            chunk.forEach((image, i) => results.push({ image, predictions: top[i] }));
          } finally {
            batch.dispose();
          }
        }
      } finally {
        model.dispose();
      }
      results.sort((a, b) => images.indexOf(a.image) - images.indexOf(b.image));
      const failed = results.filter((r) => r.error !== undefined);
      if (options.json) {
        console.log(JSON.stringify(results, null, 2));
      } else {
        for (const { image, predictions, error } of results) {
          console.log(image);
          if (error !== undefined) console.log(`  unreadable: ${error}`);
          for (const { index, label, probability } of predictions ?? []) {
          const shown = labels ? `${label} (${index})` : label;
            console.log(`  ${(probability * 100).toFixed(2).padStart(6)}%  ${shown}`);
          }
        }
      }
      if (failed.length > 0) throw new Error(`${failed.length} of ${images.length} images could not be read: ${failed.map((r) => r.image).join(', ')}`);
    });
}
