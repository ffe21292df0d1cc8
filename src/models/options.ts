// Checks on user-given model options and configs, so a typo or a bad value is an error
// that names the model, the option and what it accepts.
import { globalPoolTypes } from '../layers/classifier-head.js';
import type { CommonConfig } from './family.js';

/** Throws if `options` has a key outside `accepted`. */
export function rejectUnknownOptions(model: string, options: object, accepted: readonly string[]): void {
  const unknown = Object.keys(options).filter((key) => !accepted.includes(key) && (options as Record<string, unknown>)[key] !== undefined);
  if (unknown.length > 0) {
    throw new Error(`${model}: unknown option${unknown.length > 1 ? 's' : ''} ${unknown.map((k) => `'${k}'`).join(', ')}; accepted: ${accepted.join(', ')}`);
  }
}

export function checkInteger(model: string, option: string, value: unknown, minimum: number): number {
  if (typeof value !== 'number' || !Number.isInteger(value) || value < minimum) {
    throw new Error(`${model}: ${option} must be an integer >= ${minimum}, got ${JSON.stringify(value)}`);
  }
  return value;
}

export function checkIntegerList(model: string, option: string, value: unknown, minimum: number, length?: number): number[] {
  if (!Array.isArray(value) || value.length === 0 || (length !== undefined && value.length !== length)) {
    const size = length === undefined ? 'a non-empty list' : `a list of ${length}`;
    throw new Error(`${model}: ${option} must be ${size} integers >= ${minimum}, got ${JSON.stringify(value)}`);
  }
  return value.map((item, i) => checkInteger(model, `${option}[${i}]`, item, minimum));
}

export function checkChoice<T extends string>(model: string, option: string, value: unknown, choices: readonly T[]): T {
  if (!choices.includes(value as T)) {
    throw new Error(`${model}: ${option} must be one of ${choices.map((c) => `'${c}'`).join(', ')}, got ${JSON.stringify(value)}`);
  }
  return value as T;
}

export function checkBoolean(model: string, option: string, value: unknown): boolean {
  if (typeof value !== 'boolean') throw new Error(`${model}: ${option} must be true or false, got ${JSON.stringify(value)}`);
  return value;
}

export function checkNumber(model: string, option: string, value: unknown, minimum: number, below: number): number {
  if (typeof value !== 'number' || !(value >= minimum && value < below)) {
    throw new Error(`${model}: ${option} must be a number in [${minimum}, ${below}), got ${JSON.stringify(value)}`);
  }
  return value;
}

/** The accepted values of the options every family takes, for FamilyDefinition.options. */
export const commonOptionKinds = {
  name: 'string',
  numClasses: 'integer >= 0 (0: no classifier)',
  inChans: 'integer >= 1',
  globalPool: "'avg' | 'max' | 'avgmax' | 'catavgmax' | ''",
  dropRate: 'number in [0, 1)',
  dropPathRate: 'number in [0, 1)',
  outputStride: 'power of two: 8 or 16 dilate the later stages',
} as const satisfies Record<keyof CommonConfig, string>;

/**
 * Fills in and checks the options every family takes. `outputStrides` lists the values
 * the family accepts; its own (undilated) stride is `defaults.outputStride`.
 */
export function resolveCommonOptions(
  name: string,
  config: CommonConfig,
  defaults: { numClasses: number; outputStride: number; outputStrides: readonly number[] },
): Required<CommonConfig> {
  const outputStride = config.outputStride ?? defaults.outputStride;
  if (!defaults.outputStrides.includes(outputStride)) {
    throw new Error(`${name}: outputStride must be one of ${defaults.outputStrides.join(', ')}, got ${JSON.stringify(outputStride)}`);
  }
  return {
    name,
    numClasses: checkInteger(name, 'numClasses', config.numClasses ?? defaults.numClasses, 0),
    inChans: checkInteger(name, 'inChans', config.inChans ?? 3, 1),
    globalPool: checkChoice(name, 'globalPool', config.globalPool ?? 'avg', globalPoolTypes),
    dropRate: checkNumber(name, 'dropRate', config.dropRate ?? 0, 0, 1),
    dropPathRate: checkNumber(name, 'dropPathRate', config.dropPathRate ?? 0, 0, 1),
    outputStride,
  };
}
