// `resnets run MODEL --weights FILE --input X.npy --output Y.npy`: an eval-mode forward of a tensor.
import { existsSync } from 'node:fs';
import type { Command } from 'commander';
import * as io from '../../io/index.js';
import { noGrad } from '../../torch/runtime.js';
import { tidy } from '../../torch/scope.js';
import { Tensor } from '../../torch/tensor.js';
import { loadModelWithWeights } from '../model-loading.js';
import { modelOptionsHelp, parseModelOptions, parsePositiveInt } from '../options.js';

interface RunOptions {
  weights: string;
  numClasses?: number;
  modelOptions?: Record<string, unknown>;
  input: string;
  output: string;
}

function readInput(file: string): Tensor {
  if (!existsSync(file)) throw new Error(`input file '${file}' does not exist`);
  const loaded = io.load(file) as unknown;
  if (!(loaded instanceof Tensor)) throw new Error(`'${file}' does not hold a single tensor (expected an .npy array)`);
  if (loaded.ndim !== 4) throw new Error(`the input must be 4-D (batch, channels, height, width), got shape [${loaded.shape.join(', ')}] from '${file}'`);
  return loaded;
}

export function register(program: Command): void {
  program
    .command('run')
    .description('Run a model in eval mode on a tensor read from .npy and write the output to .npy')
    .argument('<model>', "model name (see 'resnets list'), or a family name (fresnet, resnet, ...) with --model-options or an MXNet checkpoint")
    .requiredOption('--weights <file>', "weights: a state dict from torch.save (.pth/.pt) or .safetensors, such as a training run's best.safetensors, or an MXNet prefix-0000.params (with the family name fresnet, the configuration comes from prefix-symbol.json beside it)")
    .option('--num-classes <n>', "classifier size (default: read from the checkpoint's classifier weight)", parsePositiveInt)
    .option('--model-options <json>', modelOptionsHelp, parseModelOptions)
    .requiredOption('--input <file>', 'input tensor, .npy, shape [batch, channels, height, width]')
    .requiredOption('--output <file>', 'where to write the output tensor (.npy)')
    .action(async (name: string, options: RunOptions) => {
      const input = readInput(options.input);
      const { model } = loadModelWithWeights(name, options.weights, options.numClasses, options.modelOptions);
      try {
        model.eval();
        const output = tidy(() => noGrad(() => model.call(input.dtype === 'float32' ? input : input.float())));
        io.save(output, options.output);
        output.dispose();
      } finally {
        model.dispose();
        input.dispose();
      }
    });
}
