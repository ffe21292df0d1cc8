// `resnets summary MODEL`: per-layer output shapes, parameters and multiply-accumulates.
import type { Command } from 'commander';
import { ImageClassifier } from '../../models/classifier.js';
import { formatSummary, summarize } from '../../tools/summary.js';
import { formatTrainingMemory, measureTrainingMemory } from '../../tools/training-memory.js';
import { buildModel, modelInfo } from '../model-loading.js';
import { parsePositiveInt, parseShape } from '../options.js';

interface SummaryOptions {
  input?: number[];
  numClasses?: number;
  json?: boolean;
  trainingMemory?: boolean;
  segments?: number;
}

export function register(program: Command): void {
  program
    .command('summary')
    .description('Per-layer table (path, type, output shape, parameters, MACs) and totals')
    .argument('<model>', "model name (see 'resnets list')")
    .option('--input <shape>', "input shape, e.g. 1x3x224x224, or 1x1x28x28 for a greyscale model (default: 1 x the model's input size)", parseShape)
    .option('--num-classes <n>', 'classifier size (default: the model default)', parsePositiveInt)
    .option('--json', 'print { model, input, totalParams, trainableParams, buffers, macs, layers } as JSON')
    .option('--training-memory', 'also measure the activation memory per image of a training step, with and without activation checkpointing (runs two steps; a batch of 1 is measured as 2)')
    .option('--segments <n>', 'with --training-memory: checkpoint in N segments (default: every block its own)', parsePositiveInt)
    .addHelpText('after', '\nMACs are per image and count convolutions and linear layers only.')
    .action((name: string, options: SummaryOptions) => {
      const info = modelInfo(name);
      const input = options.input ?? [1, ...info.defaultInputSize];
      if (input.length !== 4) throw new Error(`--input must have 4 sizes (batch x channels x height x width), got ${input.join('x')}`);
      // Shapes, counts and MACs do not depend on the weights' values: skip the family's init.
      // The input's channel count picks the stem's (1x1x28x28 summarises a greyscale model).
      const model = buildModel(name, { numClasses: options.numClasses, inChans: input[1], init: false });
      try {
        if (options.segments !== undefined && !options.trainingMemory) throw new Error('--segments applies with --training-memory');
        const summary = summarize(model, input);
        const setting = options.segments === undefined ? true : { segments: options.segments };
        if (options.trainingMemory && !(model instanceof ImageClassifier)) throw new Error(`${name}: --training-memory needs an image classifier`);
        const trainingMemory = options.trainingMemory ? measureTrainingMemory(model as ImageClassifier, [Math.max(2, input[0]), ...input.slice(1)], setting) : undefined;
        if (options.json) console.log(JSON.stringify({ model: name, ...summary, ...(trainingMemory ? { trainingMemory } : {}) }, null, 2));
        else console.log(formatSummary(summary, name) + (trainingMemory ? `\n${formatTrainingMemory(trainingMemory)}` : ''));
      } finally {
        model.dispose();
      }
    });
}
