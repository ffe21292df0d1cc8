// `resnets export MODEL -o model.onnx`: the model as an ONNX file, checked by onnxruntime in the tests.
import { InvalidArgumentError, type Command } from 'commander';
import { DEFAULT_OPSET, MAX_OPSET, MIN_OPSET, saveOnnx } from '../../tools/onnx/export.js';
import { addToolModelOptions, modelForTool, toolInputShape } from '../model-loading.js';
import { parsePositiveInt } from '../options.js';

interface ExportOptions {
  output: string;
  weights?: string;
  numClasses?: number;
  input?: number[];
  opset: number;
  dynamicBatch?: boolean;
  foldBn?: boolean;
}

function parseOpset(text: string): number {
  const opset = parsePositiveInt(text);
  if (opset < MIN_OPSET || opset > MAX_OPSET) throw new InvalidArgumentError(`expected an opset from ${MIN_OPSET} to ${MAX_OPSET}, got ${opset}`);
  return opset;
}

export function register(program: Command): void {
  const command = program
    .command('export')
    .description('Export a model to ONNX (runs in onnxruntime, onnxruntime-web and other ONNX runtimes)')
    .argument('<model>', "model name (see 'resnets list')")
    .requiredOption('-o, --output <file>', 'the .onnx file to write');
  addToolModelOptions(command, 'weights to export: a file or a name such as IMAGENET1K_V2 (default: freshly initialised); the class count is read from them')
    .option('--opset <n>', `ONNX opset, ${MIN_OPSET} to ${MAX_OPSET}`, parseOpset, DEFAULT_OPSET)
    .option('--dynamic-batch', 'make the batch dimension symbolic so any batch size runs')
    .option('--fold-bn', 'fold each BatchNorm into the convolution before it')
    .addHelpText('after', '\nParameters keep their state-dict names as ONNX initializers; the graph input is "input", the output "output".')
    .action((name: string, options: ExportOptions) => {
      const input = toolInputShape(name, options.input);
      const model = modelForTool(name, { weights: options.weights, numClasses: options.numClasses, inChans: input[1] });
      try {
        model.eval();
        saveOnnx(model, options.output, { input, opset: options.opset, dynamicBatch: options.dynamicBatch, foldBn: options.foldBn });
        console.log(`wrote ${options.output} (${name}, input ${input.join('x')}${options.dynamicBatch ? ' with a dynamic batch' : ''}, opset ${options.opset})`);
      } finally {
        model.dispose();
      }
    });
}
