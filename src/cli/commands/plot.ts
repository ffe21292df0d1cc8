// `resnets plot MODEL -o net.svg|net.dot|net.png`: the network's diagram from one traced forward pass.
import type { Command } from 'commander';
import { plotFormatOf, savePlot } from '../../tools/plot/plot.js';
import { DEPTHS, type Depth } from '../../tools/plot/structure.js';
import { addToolModelOptions, modelForTool, toolInputShape } from '../model-loading.js';
import { parseChoice, parsePositiveInt } from '../options.js';

interface PlotOptions {
  output: string;
  weights?: string;
  numClasses?: number;
  input?: number[];
  depth: Depth;
  dpi?: number;
}

export function register(program: Command): void {
  const command = program
    .command('plot')
    .description('Draw the network: every op, or each block or stage as one box, with tensor shapes on the edges')
    .argument('<model>', "model name (see 'resnets list')")
    .requiredOption('-o, --output <file>', 'the diagram to write: .svg, .dot or .png');
  addToolModelOptions(command, 'weights whose classifier size the diagram shows (default: the model default)')
    .option('--depth <level>', `detail: ${DEPTHS.join(', ')}`, parseChoice(DEPTHS), 'op')
    .option('--dpi <n>', 'PNG resolution (default 96)', parsePositiveInt)
    .addHelpText('after', '\nShortcuts are drawn dashed; blocks (modules that merge branches) and stages are boxed.')
    .action(async (name: string, options: PlotOptions) => {
      plotFormatOf(options.output); // a file name with no known format fails before the model is built
      const input = toolInputShape(name, options.input);
      const model = modelForTool(name, { weights: options.weights, numClasses: options.numClasses, inChans: input[1] });
      try {
        await savePlot(model, options.output, { input, depth: options.depth, title: name, dpi: options.dpi });
        console.log(`wrote ${options.output} (${name}, depth ${options.depth}, input ${input.join('x')})`);
      } finally {
        model.dispose();
      }
    });
}
