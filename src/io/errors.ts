// The error every reader and writer throws for a bad file or an unsavable value.

/** A checkpoint that cannot be read or written; the message names the file and the place. */
export class CheckpointError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'CheckpointError';
  }
}
