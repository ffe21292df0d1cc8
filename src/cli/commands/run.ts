// `resnets run MODEL --weights FILE --input X.npy --output Y.npy`: an eval-mode forward of a tensor.
import { existsSync } from 'node:fs';
import type { Command } from 'commander';
import * as io from '../../io/index.js';
import { noGrad } from '../../torch/runtime.js';
import { tidy } from '../../torch/scope.js';
import { Tensor } from '../../torch/tensor.js';
import { isFloatingPoint } from '../../torch/dtype.js';
import { loadModelWithWeights } from '../model-loading.js';
import { parsePositiveInt } from '../options.js';

interface RunOptions {
  weights: string;
  numClasses?: number;
  input: string;
  output: string;
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
    .argument('<model>', "model name (see 'resnets list')")
    .requiredOption('--weights <file>', "weights: a state dict from torch.save (.pth/.pt) or .safetensors, such as a training run's best.safetensors")
    .option('--num-classes <n>', "classifier size (default: read from the checkpoint's classifier weight)", parsePositiveInt)
    .requiredOption('--input <file>', 'input tensor, .npy, shape [batch, channels, height, width]')
    .requiredOption('--output <file>', 'where to write the output tensor (.npy)')
    .action(async (name: string, options: RunOptions) => {
      const input = readInput(options.input);
      const { model } = loadModelWithWeights(name, options.weights, options.numClasses);
      try {
        model.eval();
        // Floating-point input of another precision is converted to the weights' float32, as a
        // note says; the library itself refuses a mismatch (Module.call names both dtypes).
        if (input.dtype !== 'float32') console.log(`note: '${options.input}' is ${input.dtype}; converted to float32, the model's dtype`);
        const output = tidy(() => noGrad(() => model.call(input.dtype === 'float32' ? input : input.float())));
        io.save(output, options.output);
        console.log(`wrote ${options.output}: ${output.dtype} [${output.shape.join(', ')}]`);
        output.dispose();
      } finally {
        model.dispose();
        input.dispose();
      }
    });
}
