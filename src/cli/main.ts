// The `resnets` command: builds the program from one module per subcommand and runs it.
import { readFileSync, realpathSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Command } from 'commander';
import { packageRoot } from '../native.js';
import { retainFreedMemory, useDefaultThreads } from '../torch/runtime.js';
import { reportError } from './errors.js';
import * as bench from './commands/bench.js';
import * as convert from './commands/convert.js';
import * as demo from './commands/demo.js';
import * as embed from './commands/embed.js';
import * as evaluate from './commands/eval.js';
import * as exportModel from './commands/export.js';
import * as list from './commands/list.js';
import * as plot from './commands/plot.js';
import * as openSetDemo from './commands/open-set-demo.js';
import * as predict from './commands/predict.js';
import * as run from './commands/run.js';
import * as summary from './commands/summary.js';
import * as train from './commands/train.js';
import * as weights from './commands/weights.js';
import * as verify from './commands/verify.js';
import * as verifyEval from './commands/verify-eval.js';

/** A subcommand module: adds its command (options, help, action) to the program. */
export interface CommandModule {
  register(program: Command): void;
}

/** Every subcommand, in the order `resnets --help` lists them; adding one is one line. */
const commandModules: CommandModule[] = [list, summary, plot, run, predict, weights, embed, verify, verifyEval, convert, bench, train, evaluate, exportModel, demo, openSetDemo];

function packageVersion(): string {
  // Read at run time so dist/ and src/ report the same version.
  return (JSON.parse(readFileSync(join(packageRoot, 'package.json'), 'utf8')) as { version: string }).version;
}

export function buildProgram(): Command {
  const program = new Command('resnets')
    .description('The ResNet family of convolutional networks: list, inspect, run, predict, train, evaluate and benchmark models.')
    .version(packageVersion(), '-V, --version')
    .exitOverride()
    .configureOutput({
      // Usage errors on one line, prefixed like every other error.
      outputError: (text, write) => write(`resnets: ${text.replace(/^error: /, '').trimEnd()}\n`),
    });
  for (const module of commandModules) module.register(program);
  return program;
}

/** Runs the command line; resolves to the exit code (0 success, 1 failure, 2 usage error). */
export async function main(argv: string[] = process.argv): Promise<number> {
  try {
    // Commands that take --threads override this.
    useDefaultThreads();
    // The command owns the process: freed activations stay for the next step or batch.
    retainFreedMemory();
    await buildProgram().parseAsync(argv);
    return 0;
  } catch (error) {
    return reportError(error);
  }
}

function isEntryPoint(): boolean {
  if (!process.argv[1]) return false;
  try {
    return realpathSync(process.argv[1]) === realpathSync(fileURLToPath(import.meta.url));
  } catch {
    return false;
  }
}

if (isEntryPoint()) process.exitCode = await main();
