// Parsers for option values; a bad value is a usage error (exit code 2) naming the value.
import { InvalidArgumentError, Option } from 'commander';
import { PRECISIONS } from '../tools/inference-modes.js';

/** '1x3x224x224' (or '1,3,224,224') -> [1, 3, 224, 224]. */
export function parseShape(text: string): number[] {
  const parts = text.trim().split(/[x,×]/i);
  const shape = parts.map((part) => Number(part));
  if (parts.length === 0 || shape.some((size) => !Number.isSafeInteger(size) || size <= 0) || parts.some((part) => part.trim() === '')) {
    throw new InvalidArgumentError(`expected sizes joined by 'x' such as 1x3x224x224, got '${text}'`);
  }
  return shape;
}

// Integers beyond 2^53 are not exact in JavaScript (1e30 "is an integer"), and libtorch
// refuses them: they are usage errors here, not native errors later.
export function parsePositiveInt(text: string): number {
  const value = Number(text);
  if (text.trim() === '' || !Number.isSafeInteger(value) || value <= 0) {
    throw new InvalidArgumentError(`expected a positive integer up to ${Number.MAX_SAFE_INTEGER}, got '${text}'`);
  }
  return value;
}

export function parseNonNegativeInt(text: string): number {
  const value = Number(text);
  if (text.trim() === '' || !Number.isSafeInteger(value) || value < 0) {
    throw new InvalidArgumentError(`expected a non-negative integer up to ${Number.MAX_SAFE_INTEGER}, got '${text}'`);
  }
  return value;
}

/** '1,8' -> [1, 8]. */
export function parsePositiveIntList(text: string): number[] {
  const parts = text.split(',');
  const values = parts.map((part) => Number(part));
  if (parts.some((part) => part.trim() === '') || values.some((value) => !Number.isSafeInteger(value) || value <= 0)) {
    throw new InvalidArgumentError(`expected positive integers separated by commas such as 1,8, got '${text}'`);
  }
  return values;
}

export function parseNonNegativeIntList(text: string): number[] {
  const parts = text.split(',');
  const values = parts.map((part) => Number(part));
  if (parts.some((part) => part.trim() === '') || values.some((value) => !Number.isInteger(value) || value < 0)) {
    throw new InvalidArgumentError(`expected integers >= 0 separated by commas such as 0,1,2, got '${text}'`);
  }
  return values;
}

export function parseFraction(text: string): number {
  const value = Number(text);
  if (text.trim() === '' || !(value > 0 && value <= 1)) throw new InvalidArgumentError(`expected a number in (0, 1], got '${text}'`);
  return value;
}

/** A probability in [0, 1): drop rates. */
export function parseProbability(text: string): number {
  const value = Number(text);
  if (text.trim() === '' || !(value >= 0 && value < 1)) throw new InvalidArgumentError(`expected a number in [0, 1), got '${text}'`);
  return value;
}

export function parseNonNegativeNumber(text: string): number {
  const value = Number(text);
  if (text.trim() === '' || !Number.isFinite(value) || value < 0) throw new InvalidArgumentError(`expected a non-negative number, got '${text}'`);
  return value;
}

export function parsePositiveNumber(text: string): number {
  const value = Number(text);
  if (text.trim() === '' || !Number.isFinite(value) || value <= 0) throw new InvalidArgumentError(`expected a positive number, got '${text}'`);
  return value;
}

/** A parser that accepts only one of `choices`. */
export function parseChoice<T extends string>(choices: readonly T[]): (text: string) => T {
  return (text) => {
    if (!choices.includes(text as T)) throw new InvalidArgumentError(`expected one of ${choices.join(', ')}, got '${text}'`);
    return text as T;
  };
}

/** Image channels to decode: 1 (grey) or 3 (RGB). */
export function parseChannels(text: string): 1 | 3 {
  if (text !== '1' && text !== '3') throw new InvalidArgumentError(`expected 1 or 3, got '${text}'`);
  return Number(text) as 1 | 3;
}

/** A number in [0, 1], ends included: probabilities that may be 1, decays, shares of a run. */
export function parseUnitInterval(text: string): number {
  const value = Number(text);
  if (text.trim() === '' || !(value >= 0 && value <= 1)) throw new InvalidArgumentError(`expected a number in [0, 1], got '${text}'`);
  return value;
}

/** A share strictly between 0 and 1 (a validation split). */
export function parseOpenFraction(text: string): number {
  const value = Number(text);
  if (text.trim() === '' || !(value > 0 && value < 1)) throw new InvalidArgumentError(`expected a number between 0 and 1 (exclusive), got '${text}'`);
  return value;
}

/** '{"unit": 2, "head": "GDC"}' -> the options object; anything but a JSON object is a usage error. */
export function parseModelOptions(text: string): Record<string, unknown> {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (error) {
    throw new InvalidArgumentError(`expected a JSON object such as '{"unit": 2, "head": "GDC"}', got '${text}' (${(error as Error).message})`);
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) throw new InvalidArgumentError(`expected a JSON object of model options, got '${text}'`);
  return value as Record<string, unknown>;
}

/** The commands whose model argument may be a family name, configured by --model-options. */
const familyNameCommands = 'run, summary, convert, embed, verify, verify-eval';

export const modelOptionsHelp =
  `family options as JSON, e.g. '{"dropPathRate": 0.1}' or '{"unit": 2, "head": "GDC"}'; with a family name (fresnet, resnet) instead of a model name they describe a custom configuration (${familyNameCommands})`;

/** --model-options for the commands that need a registered model (its input size, normalisation and kind). */
export const registeredModelOptionsHelp =
  `options of the registered model as JSON, e.g. '{"dropPathRate": 0.1}'; a family name with options is taken only by ${familyNameCommands}`;

/** --precision for the commands that run a model (run, predict; bench has its own help). */
export function precisionOption(): Option {
  return new Option('--precision <p>', 'fp32 (the eval model as it is), or bf16: the model compiled to a oneDNN plan with bfloat16 weights and activations (fast with AVX512-BF16 or AMX)')
    .argParser(parseChoice(PRECISIONS))
    .default('fp32');
}
