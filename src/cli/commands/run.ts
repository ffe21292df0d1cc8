// `resnets run MODEL --weights FILE --input X.npy --output Y.npy`: an eval-mode forward of a
// tensor. With --features-only, the model's backbone gives its stage outputs (C1..C5 for
// an ImageNet ResNet), one file each: Y.0.npy, Y.1.npy, ...
import { existsSync } from 'node:fs';
import type { Command } from 'commander';
import * as io from '../../io/index.js';
import { noGrad } from '../../torch/runtime.js';
import { dispose, tidy } from '../../torch/scope.js';
import { Tensor } from '../../torch/tensor.js';
import { assertFiniteOutput } from '../../train/evaluate.js';
import { isFloatingPoint } from '../../torch/dtype.js';
import { loadBackboneWithWeights, loadModelWithWeights } from '../model-loading.js';
import { modelOptionsHelp, parseModelOptions, parseNonNegativeIntList, parsePositiveInt, precisionOption } from '../options.js';
import { prepareForInference, type Precision } from '../../tools/inference-modes.js';

interface RunOptions {
  weights: string;
  numClasses?: number;
  modelOptions?: Record<string, unknown>;
  input: string;
  output: string;
  featuresOnly?: boolean;
  outIndices?: number[];
  precision: Precision;
}

/** Y.npy -> Y.0.npy, Y.1.npy, ... (a name without .npy gets .0.npy, ...). */
export function featureOutputPaths(output: string, count: number): string[] {
  const stem = output.toLowerCase().endsWith('.npy') ? output.slice(0, -4) : output;
  return Array.from({ length: count }, (_, i) => `${stem}.${i}.npy`);
}

function runBackbone(name: string, input: Tensor, options: RunOptions): void {
  if (options.numClasses !== undefined) throw new Error('--num-classes does not apply with --features-only (a backbone has no classifier)');
  const backbone = loadBackboneWithWeights(name, options.weights, options.outIndices);
  try {
    backbone.eval();
    const features = tidy(() => noGrad(() => backbone.call(input.dtype === 'float32' ? input : input.float())));
    const paths = featureOutputPaths(options.output, features.length);
    features.forEach((feature, i) => assertFiniteOutput(feature, `stage output ${i} of the input from '${options.input}' (nothing was written)`));
    features.forEach((feature, i) => io.save(feature, paths[i]));
    for (const [i, info] of backbone.featureInfo.entries()) {
      console.log(`${paths[i]}: ${info.module} [${features[i].shape.join(', ')}], stride ${info.reduction}`);
    }
    dispose(features);
  } finally {
    backbone.dispose();
  }
}

function readInput(file: string): Tensor {
  if (!existsSync(file)) throw new Error(`input file '${file}' does not exist`);
  const loaded = io.load(file) as unknown;
  if (!(loaded instanceof Tensor)) throw new Error(`'${file}' does not hold a single tensor (expected an .npy array)`);
  if (loaded.ndim !== 4) {
    loaded.dispose();
    throw new Error(`the input must be 4-D (batch, channels, height, width), got shape [${loaded.shape.join(', ')}] from '${file}'`);
  }
  if (!isFloatingPoint(loaded.dtype)) {
    const dtype = loaded.dtype;
    loaded.dispose();
    throw new Error(`'${file}' holds ${dtype} values; the model takes floating-point input (scale images to [0, 1] and normalise them first)`);
  }
  return loaded;
}

export function register(program: Command): void {
  program
    .command('run')
    .description('Run a model in eval mode on a tensor read from .npy and write the output to .npy')
    .argument('<model>', "model name (see 'resnets list'), or a family name (fresnet, resnet, ...) with --model-options or an MXNet checkpoint")
    .requiredOption('--weights <file>', "weights: a state dict from torch.save (.pth/.pt) or .safetensors, such as a training run's best.safetensors, or an MXNet prefix-0000.params (with the family name fresnet or resnext, the configuration comes from prefix-symbol.json beside it)")
    .option('--num-classes <n>', "classifier size (default: read from the checkpoint's classifier weight)", parsePositiveInt)
    .option('--model-options <json>', modelOptionsHelp, parseModelOptions)
    .requiredOption('--input <file>', 'input tensor, .npy, shape [batch, channels, height, width]')
    .requiredOption('--output <file>', 'where to write the output tensor (.npy); with --features-only, Y.npy becomes Y.0.npy, Y.1.npy, ...')
    .option('--features-only', "the backbone's stage outputs instead of the logits (the full model's checkpoint; its classifier keys are ignored)")
    .option('--out-indices <list>', 'with --features-only: which stages, as indices into the model\'s featureInfo (default all: 0,1,2,3,4 = C1..C5 for an ImageNet ResNet)', parseNonNegativeIntList)
    .addOption(precisionOption())
    .action(async (name: string, options: RunOptions) => {
      if (options.outIndices && !options.featuresOnly) throw new Error('--out-indices needs --features-only');
      if (options.featuresOnly && options.precision !== 'fp32') throw new Error(`--precision ${options.precision} runs the full model only, not --features-only`);
      const input = readInput(options.input);
      // Floating-point input of another precision is converted to the weights' float32, as a
      // note says; the library itself refuses a mismatch (Module.call names both dtypes).
      if (input.dtype !== 'float32') console.log(`note: '${options.input}' is ${input.dtype}; converted to float32, the model's dtype`);
      if (options.featuresOnly) {
        try {
          runBackbone(name, input, options);
        } finally {
          input.dispose();
        }
        return;
      }
      const { model: loaded } = loadModelWithWeights(name, options.weights, options.numClasses, options.modelOptions);
      const model = options.precision === 'fp32' ? loaded : prepareForInference(loaded, { precision: options.precision });
      try {
        model.eval();
        const output = tidy(() => noGrad(() => model.call(input.dtype === 'float32' ? input : input.float())));
        try {
          assertFiniteOutput(output, `the input from '${options.input}' (nothing was written to '${options.output}')`);
          io.save(output, options.output);
          console.log(`wrote ${options.output}: ${output.dtype} [${output.shape.join(', ')}]`);
        } finally {
          output.dispose();
        }
      } finally {
        model.dispose();
        input.dispose();
      }
    });
}
