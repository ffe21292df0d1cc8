// Checks on user-given model options and configs, so a typo or a bad value is an error
// that names the model, the option and what it accepts.
import type { ModelOptions } from './registry.js';

/** Throws if `options` has a key outside `accepted`. */
export function rejectUnknownOptions(model: string, options: object, accepted: readonly string[]): void {
  const unknown = Object.keys(options).filter((key) => !accepted.includes(key) && (options as Record<string, unknown>)[key] !== undefined);
  if (unknown.length > 0) {
    throw new Error(`${model}: unknown option${unknown.length > 1 ? 's' : ''} ${unknown.map((k) => `'${k}'`).join(', ')}; accepted: ${accepted.join(', ')}`);
  }
}

/**
 * The largest integer any model option may take (widths, classes, groups, depths): far
 * beyond every published network, and small enough that a typo such as 1e9 is refused
 * here instead of building for minutes and allocating gigabytes.
 */
export const MAX_MODEL_INTEGER = 1_000_000;

export function checkInteger(model: string, option: string, value: unknown, minimum: number, maximum = MAX_MODEL_INTEGER): number {
  if (typeof value !== 'number' || !Number.isInteger(value) || value < minimum || value > maximum) {
    throw new Error(`${model}: ${option} must be an integer from ${minimum} to ${maximum}, got ${JSON.stringify(value)}`);
  }
  return value;
}

export function checkIntegerList(model: string, option: string, value: unknown, minimum: number, length?: number, maximum = MAX_MODEL_INTEGER): number[] {
  if (!Array.isArray(value) || value.length === 0 || value.length > 1000 || (length !== undefined && value.length !== length)) {
    const size = length === undefined ? 'a non-empty list of up to 1000' : `a list of ${length}`;
    throw new Error(`${model}: ${option} must be ${size} integers >= ${minimum}, got ${JSON.stringify(value)?.slice(0, 200)}`);
  }
  return value.map((item, i) => checkInteger(model, `${option}[${i}]`, item, minimum, maximum));
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

/** The options common to every family, with their defaults. */
export const commonOptionNames = ['numClasses', 'inChans', 'init'] as const;

/** Whether the family should run its weight initialisation (true unless `init: false`). */
export function wantsInit(model: string, options: ModelOptions): boolean {
  return options.init === undefined ? true : checkBoolean(model, 'init', options.init);
}
