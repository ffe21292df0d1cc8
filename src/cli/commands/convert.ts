// `resnets convert IN -o OUT`: a checkpoint from one format to another (.pth/.pt/.bin,
// .safetensors, MXNet .params), the format chosen by each file's extension. Plain state
// dicts keep their names. fresnet checkpoints also change naming: MXNet's names
// (arg:conv0_weight) become ours (conv0.weight) and back, through the family's key map,
// the configuration coming from --model (and --model-options) or from the
// prefix-symbol.json beside an MXNet input.
import { existsSync } from 'node:fs';
import type { Command } from 'commander';
import * as io from '../../io/index.js';
import { loadMxnetSymbol, symbolPathFor } from '../../io/mxnet-symbol.js';
import type { StateDict } from '../../io/types.js';
import { FResNet } from '../../models/fresnet.js';
import { fresnetConfigFromSymbol } from '../../models/fresnet-mxnet.js';
import { createModelFromConfigByName, loadCheckpoint } from '../../models/index.js';
import { fromMxnetParams, looksLikeMxnetParams, toMxnetParams } from '../../models/mxnet-names.js';
import { dispose } from '../../torch/scope.js';
import { buildModel, readCheckpoint } from '../model-loading.js';
import { modelOptionsHelp, parseModelOptions } from '../options.js';

interface ConvertOptions {
  output: string;
  model?: string;
  modelOptions?: Record<string, unknown>;
}

const isParams = (path: string) => /\.params$/i.test(path);

/** The fresnet whose key map converts `dict`: from --model, else from the symbol beside an MXNet input. */
function fresnetFor(input: string, dict: StateDict, options: ConvertOptions): FResNet | undefined {
  if (options.model) {
    const model = buildModel(options.model, { init: false, modelOptions: options.modelOptions });
    if (model instanceof FResNet) return model;
    model.dispose();
    return undefined;
  }
  const symbol = symbolPathFor(input);
  if (!isParams(input) || !existsSync(symbol)) return undefined;
  const config = { ...fresnetConfigFromSymbol(loadMxnetSymbol(symbol), symbol, dict), ...options.modelOptions };
  return createModelFromConfigByName({ ...config, family: 'fresnet' }, { init: false }) as FResNet;
}

/** What to write: `dict` renamed for the output's naming where a fresnet says how. */
function converted(input: string, dict: StateDict, options: ConvertOptions, notes: string[]): StateDict {
  const mxnetIn = looksLikeMxnetParams(dict);
  const mxnetOut = isParams(options.output);
  if (mxnetIn === mxnetOut && !(mxnetOut && options.model)) return dict;
  const model = fresnetFor(input, dict, options);
  if (!model) {
    if (mxnetIn && !mxnetOut) throw new Error(`${input} has MXNet names (arg:/aux:); to rename them for PyTorch, give --model (fresnet50, or fresnet with --model-options) or put ${symbolPathFor(input)} beside it`);
    // A plain state dict in an MXNet file: the same names; 0-d tensors (batch counters) cannot be stored.
    const scalars = Object.keys(dict).filter((key) => dict[key].ndim === 0);
    if (scalars.length > 0) notes.push(`left out ${scalars.length} 0-d tensor(s) MXNet's format cannot hold (${scalars.slice(0, 2).join(', ')}${scalars.length > 2 ? ', ...' : ''})`);
    return Object.fromEntries(Object.entries(dict).filter(([, tensor]) => tensor.ndim > 0));
  }
  // Copies: the model (whose tensors the renamed dict borrows) is freed before writing.
  const copies = (named: StateDict) => Object.fromEntries(Object.entries(named).map(([key, tensor]) => [key, tensor.clone()]));
  try {
    if (mxnetIn) {
      const { dict: ours, ignored } = fromMxnetParams(model, dict, input);
      if (ignored.length > 0) notes.push(`left out ${ignored.join(', ')} (the margin loss's class centres, not part of the embedding network)`);
      return copies(ours);
    }
    loadCheckpoint(model, dict, { source: input });
    return copies(toMxnetParams(model));
  } finally {
    model.dispose();
  }
}

export function register(program: Command): void {
  program
    .command('convert')
    .description('Convert a checkpoint between .pth/.pt, .safetensors and MXNet .params (fresnet names mapped both ways)')
    .argument('<input>', 'checkpoint to read (.pth/.pt/.bin, .safetensors, .params)')
    .requiredOption('-o, --output <file>', 'checkpoint to write; its extension picks the format')
    .option('--model <name>', 'the model the weights belong to (fresnet* maps names to and from MXNet); default: read from prefix-symbol.json beside an MXNet input')
    .option('--model-options <json>', modelOptionsHelp, parseModelOptions)
    .action((input: string, options: ConvertOptions) => {
      const dict = readCheckpoint(input);
      const notes: string[] = [];
      let out: StateDict | undefined;
      try {
        out = converted(input, dict, options, notes);
        io.save(out, options.output);
      } finally {
        if (out && out !== dict) dispose(Object.values(out).filter((tensor) => !Object.values(dict).includes(tensor)));
        dispose(dict);
      }
      console.log(`wrote ${options.output}: ${Object.keys(out).length} tensors`);
      for (const note of notes) console.log(`note: ${note}`);
    });
}
