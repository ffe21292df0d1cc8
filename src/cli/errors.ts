// How failures reach the user: one line on stderr, a stack only with RESNETS_DEBUG=1.
import { CommanderError } from 'commander';

/** Exit codes: 1 for a failure while running, 2 for a usage error (bad option or argument). */
export const EXIT_FAILURE = 1;
export const EXIT_USAGE = 2;
/** A run stopped by Ctrl-C (128 + SIGINT), as shells report it. */
export const EXIT_INTERRUPTED = 130;

/** Thrown by a command that stopped on Ctrl-C after saying so: exit 130, nothing more printed. */
export class Interrupted extends Error {
  constructor() {
    super('interrupted');
    this.name = 'Interrupted';
  }
}

/** A message on one line: multi-line messages (a checkpoint's key lists) are joined with '; '. */
export function oneLine(message: string): string {
  return message
    .split('\n')
    .map((line) => line.trim())
    .filter((line) => line !== '')
    .join('; ');
}

function messageOf(error: unknown): string {
  if (error instanceof Error) return error.message || error.name;
  return String(error);
}

/** Prints the error and returns the exit code to use. */
export function reportError(error: unknown, write: (text: string) => void = (text) => process.stderr.write(text)): number {
  if (error instanceof CommanderError) {
    // Commander has printed its message (or the help) already, through configureOutput.
    // Help that was asked for exits 0; help shown for a missing command is a usage error.
    const informational = ['commander.helpDisplayed', 'commander.help', 'commander.version'].includes(error.code);
    return informational && error.exitCode === 0 ? 0 : EXIT_USAGE;
  }
  if (error instanceof Interrupted) return EXIT_INTERRUPTED;
  write(`resnets: ${oneLine(messageOf(error))}\n`);
  if (process.env.RESNETS_DEBUG === '1' && error instanceof Error && error.stack) write(`${error.stack}\n`);
  return EXIT_FAILURE;
}
