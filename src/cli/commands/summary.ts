// `resnets summary MODEL`: per-layer output shapes, parameters and multiply-accumulates.
import type { Command } from 'commander';
import { EmbeddingModel } from '../../models/embedding.js';
import { ImageClassifier } from '../../models/classifier.js';
import { formatSummary, summarize, type CountConvention } from '../../tools/summary.js';
import { buildModel, isFamilyName, loadModelWithWeights, modelInfo, type ImageModel } from '../model-loading.js';
import { modelOptionsHelp, parseChoice, parseModelOptions, parsePositiveInt, parseShape } from '../options.js';
import { formatTrainingMemory, measureTrainingMemory } from '../../tools/training-memory.js';

interface SummaryOptions {
  input?: number[];
  numClasses?: number;
  modelOptions?: Record<string, unknown>;
  weights?: string;
  convention: CountConvention;
  json?: boolean;
  trainingMemory?: boolean;
  segments?: number;
}

/** [channels, height, width] the model was built for. */
function inputSizeOf(model: ImageModel): number[] {
  if (model instanceof EmbeddingModel) return model.preprocessing.inputSize;
  if (model instanceof ImageClassifier) return model.pretrainedConfig.inputSize;
  throw new Error('summary: cannot tell the input size of this model; pass --input');
}

export function register(program: Command): void {
  program
    .command('summary')
    .description('Per-layer table (path, type, output shape, parameters, MACs) and totals')
    .argument('<model>', "model name (see 'resnets list'), or a family name (fresnet, resnet, ...) with --model-options or --weights")
    .option('--input <shape>', "input shape, e.g. 1x3x224x224, or 1x1x28x28 for a greyscale model (default: 1 x the model's input size)", parseShape)
    .option('--num-classes <n>', 'classifier size (default: the model default)', parsePositiveInt)
    .option('--model-options <json>', modelOptionsHelp, parseModelOptions)
    .option('--weights <file>', 'summarise the model these weights are for: with the family name fresnet or resnext, an MXNet prefix-0000.params whose prefix-symbol.json gives the configuration')
    .option('--convention <name>', "how parameters are counted: 'torch' (every parameter once) or 'mxnet' (as MXNet's mx.viz.print_summary prints them)", parseChoice(['torch', 'mxnet'] as const), 'torch' as const)
    .option('--json', 'print { model, input, totalParams, trainableParams, buffers, macs, mxnetParams, layers } as JSON')
    .option('--training-memory', 'also measure the activation memory per image of a training step, with and without activation checkpointing (runs two steps; a batch of 1 is measured as 2)')
    .option('--segments <n>', 'with --training-memory: checkpoint in N segments (default: every block its own)', parsePositiveInt)
    .addHelpText('after', '\nMACs are per image and count convolutions and linear layers only.')
    .action((name: string, options: SummaryOptions) => {
      const embedding = !isFamilyName(name) && modelInfo(name).kind === 'embedding';
      // Shapes, counts and MACs do not depend on the weights' values: skip the family's init.
      // The input's channel count picks the stem's (1x1x28x28 summarises a greyscale model).
      const inChans = options.input && !embedding ? options.input[1] : undefined;
      const model = options.weights
        ? loadModelWithWeights(name, options.weights, options.numClasses, options.modelOptions).model
        : buildModel(name, { numClasses: options.numClasses, inChans, init: false, modelOptions: options.modelOptions });
      try {
        const input = options.input ?? [1, ...inputSizeOf(model)];
        if (input.length !== 4) throw new Error(`--input must have 4 sizes (batch x channels x height x width), got ${input.join('x')}`);
        if (options.segments !== undefined && !options.trainingMemory) throw new Error('--segments applies with --training-memory');
        const summary = summarize(model, input);
        const setting = options.segments === undefined ? true : { segments: options.segments };
        if (options.trainingMemory && !(model instanceof ImageClassifier)) throw new Error(`${name}: --training-memory needs an image classifier`);
        const trainingMemory = options.trainingMemory ? measureTrainingMemory(model as ImageClassifier, [Math.max(2, input[0]), ...input.slice(1)], setting) : undefined;
        if (options.json) console.log(JSON.stringify({ model: name, ...summary, ...(trainingMemory ? { trainingMemory } : {}) }, null, 2));
        else console.log(formatSummary(summary, name, options.convention) + (trainingMemory ? `\n${formatTrainingMemory(trainingMemory)}` : ''));
      } finally {
        model.dispose();
      }
    });
}
