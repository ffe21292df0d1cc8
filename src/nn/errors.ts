// Forward errors name the module path (`layer3.1.conv2`) and the shapes involved.

const context = Symbol('resnets.moduleContext');

interface ModuleErrorContext {
  path: string[];
  type: string;
  inputShape: string;
  original: string;
}

type AnnotatedError = Error & { [context]?: ModuleErrorContext };

function describeInput(input: unknown): string {
  const shaped = input as { shape?: number[] } | null;
  if (shaped && Array.isArray(shaped.shape)) return `[${shaped.shape.join(', ')}]`;
  if (Array.isArray(input)) return `(${input.map(describeInput).join(', ')})`;
  return typeof input;
}

/**
 * Adds this module's place to an error thrown inside its forward. The innermost module
 * records its type and input shape; each enclosing module prepends its own name.
 */
export function annotateForwardError(error: unknown, type: string, nameInParent: string | undefined, input: unknown): unknown {
  if (!(error instanceof Error)) return error;
  const annotated = error as AnnotatedError;
  let info = annotated[context];
  if (!info) {
    info = { path: [], type, inputShape: describeInput(input), original: error.message };
    annotated[context] = info;
  }
  if (nameInParent !== undefined) info.path.unshift(nameInParent);
  const where = info.path.length > 0 ? `${info.path.join('.')} (${info.type})` : info.type;
  error.message = `${where} with input ${info.inputShape}: ${info.original}`;
  return error;
}
