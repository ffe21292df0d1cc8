// The run directory: what a training run leaves behind, every file written atomically.
//
//   config.json         the run's settings (model, data, optimiser, schedule, seed)
//   metrics.jsonl       one JSON line per finished epoch
//   last.safetensors    weights after the latest epoch (or the stop)
//   best.safetensors    weights of the epoch with the best test accuracy
//   ema.safetensors     the weights' exponential moving average after the latest epoch
//                       (runs with model EMA)
//   state.safetensors   what resuming needs: model, loss head, optimiser and EMA tensors; the
//                       position (epoch, batch, iteration), the best score, the seed and
//                       the plateau and early-stopping counters in the header's __metadata__
//   curves.svg          loss and accuracy by epoch
//   head.safetensors    an embedding run's loss head after the latest epoch: the class
//                       centres ('weight', [identities, embedding size]) of a margin
//                       loss, or the softmax classifier ('fc.weight', 'fc.bias')
//
// Weights files carry the model's name, options, class names and input normalisation
// in their metadata, so `eval` and `predict` need nothing else.
import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { writeFileAtomic } from '../io/atomic.js';
import { decodeSafetensors, loadSafetensorsMetadata, saveSafetensors } from '../io/safetensors.js';
import type { StateDict } from '../io/types.js';
import type { Module } from '../nn/module.js';
import { countNonFinite } from '../torch/functional.js';
import { dispose } from '../torch/scope.js';
import type { Tensor } from '../torch/tensor.js';
import { renderCurves, type CurvePoint } from './curves.js';
import type { EpochRecord } from './loop.js';
import type { EarlyStoppingState } from './early-stopping.js';
import type { Optimizer, OptimizerMeta } from './optim/optimizer.js';
import type { PlateauState } from './plateau.js';

export const RUN_FILES = {
  config: 'config.json',
  metrics: 'metrics.jsonl',
  last: 'last.safetensors',
  best: 'best.safetensors',
  ema: 'ema.safetensors',
  state: 'state.safetensors',
  curves: 'curves.svg',
  /** The class names in label order (also in each weights file's metadata). */
  classes: 'classes.json',
  head: 'head.safetensors',
} as const;

/** Where training is: the next step to take, and the running sums of the epoch in progress. */
export interface TrainingState {
  /** The epoch in progress (0-based). */
  epoch: number;
  /** The next batch of that epoch. */
  batch: number;
  /** Updates made so far: the schedule's position. */
  iteration: number;
  /** Best accuracy so far (test if there is test data, else train); -1 before any epoch. */
  bestAccuracy: number;
  bestEpoch: number;
  seed: number;
  partial: { lossSum: number; correct: number; seen: number; seconds: number };
  /** The reduce-on-plateau schedule's counters and lr. */
  plateau?: PlateauState;
  earlyStopping?: EarlyStoppingState;
  /** Set when early stopping ended the run after this 1-based epoch. */
  earlyStoppedAt?: number;
  /** Data-parallel runs: the ranks that trained it (a run resumes at the same world size). */
  worldSize?: number;
}

/** What a weights file says about the model it holds. */
export interface WeightsInfo {
  model: string;
  modelOptions: Record<string, unknown>;
  classes: string[];
  /** Channels, height, width the model was trained on. */
  inputShape: [number, number, number];
  mean: number[];
  std: number[];
  /** Evaluation crop: the image is resized to size / cropPct, then centre-cropped to size (1: resized straight to size). */
  cropPct: number;
  epoch?: number;
  testAccuracy?: number;
  /** Embedding runs: the model's output is an embedding of this size, trained with `loss`. */
  embeddingSize?: number;
  loss?: string;
}

const STATE_VERSION = 1;

/** Limits on what a weights file's run metadata may ask for (it drives allocations in predict and eval). */
export const WEIGHTS_INFO_LIMITS = { maxSide: 4096, maxChannels: 64, maxClasses: 1_000_000, maxClassNameLength: 1000 } as const;

/** Reads the model description from a weights file written by a training run. */
export function readWeightsInfo(path: string): WeightsInfo | undefined {
  return parseWeightsInfo(loadSafetensorsMetadata(path), path);
}

/**
 * The run metadata of a weights file, every field checked for type and range: a file
 * is untrusted input, and these fields size the images decoded and the model built.
 */
export function parseWeightsInfo(metadata: Record<string, string>, path: string): WeightsInfo | undefined {
  if (metadata.model === undefined) return undefined;
  const bad = (key: string, expected: string, got: unknown): never => {
    throw new Error(`${path}: run metadata '${key}' must be ${expected}, got ${JSON.stringify(got)?.slice(0, 200)}`);
  };
  const json = (key: string): unknown => {
    if (metadata[key] === undefined) return undefined;
    try {
      return JSON.parse(metadata[key]);
    } catch {
      return bad(key, 'JSON', metadata[key]);
    }
  };
  const number = (key: string): number | undefined => {
    if (metadata[key] === undefined) return undefined;
    const value = Number(metadata[key]);
    return metadata[key].trim() === '' || !Number.isFinite(value) ? bad(key, 'a finite number', metadata[key]) : value;
  };
  const isInt = (v: unknown, lo: number, hi: number): v is number => Number.isInteger(v) && (v as number) >= lo && (v as number) <= hi;
  const { maxSide, maxChannels, maxClasses, maxClassNameLength } = WEIGHTS_INFO_LIMITS;

  if (!/^[A-Za-z0-9_.-]{1,100}$/.test(metadata.model)) bad('model', 'a model name', metadata.model);
  const modelOptions = json('model_options') ?? {};
  if (typeof modelOptions !== 'object' || modelOptions === null || Array.isArray(modelOptions)) bad('model_options', 'a JSON object', modelOptions);
  const options = modelOptions as Record<string, unknown>;
  if (options.numClasses !== undefined && !isInt(options.numClasses, 0, maxClasses)) bad('model_options.numClasses', `an integer from 0 to ${maxClasses}`, options.numClasses);
  if (options.inChans !== undefined && !isInt(options.inChans, 1, maxChannels)) bad('model_options.inChans', `an integer from 1 to ${maxChannels}`, options.inChans);

  const classes = json('classes') ?? [];
  if (!Array.isArray(classes) || classes.length > maxClasses || !classes.every((c) => typeof c === 'string' && c.length <= maxClassNameLength)) {
    bad('classes', `an array of at most ${maxClasses} strings`, classes);
  }
  const classNames = classes as string[];
  const embeddingSize = number('embedding_size');
  if (embeddingSize !== undefined && !isInt(embeddingSize, 1, maxClasses)) bad('embedding_size', `an integer from 1 to ${maxClasses}`, metadata.embedding_size);
  const loss = metadata.loss;
  if (loss !== undefined && !/^[A-Za-z0-9_.-]{1,100}$/.test(loss)) bad('loss', 'a loss name', loss);
  // An embedding run's classes are its training identities, not the model's outputs.
  if (embeddingSize === undefined && classNames.length > 0 && options.numClasses !== undefined && options.numClasses !== classNames.length) {
    bad('classes', `${String(options.numClasses)} names (model_options.numClasses)`, `${classNames.length} names`);
  }
  const inputShape = json('input_shape') ?? [0, 0, 0];
  const unset = Array.isArray(inputShape) && inputShape.length === 3 && inputShape.every((v) => v === 0);
  if (!unset && (!Array.isArray(inputShape) || inputShape.length !== 3 || !isInt(inputShape[0], 1, maxChannels) || !isInt(inputShape[1], 1, maxSide) || !isInt(inputShape[2], 1, maxSide))) {
    bad('input_shape', `[channels 1-${maxChannels}, height 1-${maxSide}, width 1-${maxSide}]`, inputShape);
  }
  const channels = unset ? undefined : (inputShape as number[])[0];
  const stats = (key: string, positive: boolean): number[] => {
    const value = json(key) ?? [];
    const ok = Array.isArray(value) && value.every((v) => typeof v === 'number' && Number.isFinite(v) && (!positive || v > 0));
    if (!ok || (channels !== undefined && value.length !== 0 && value.length !== channels)) {
      bad(key, `${channels ?? 'one per channel'} finite${positive ? ' positive' : ''} numbers`, value);
    }
    return value as number[];
  };
  const cropPct = number('crop_pct') ?? 1;
  if (!(cropPct > 0 && cropPct <= 1)) bad('crop_pct', 'a number in (0, 1]', metadata.crop_pct);
  const epoch = number('epoch');
  if (epoch !== undefined && !isInt(epoch, 0, Number.MAX_SAFE_INTEGER)) bad('epoch', 'a non-negative integer', metadata.epoch);
  const testAccuracy = number('test_accuracy');
  if (testAccuracy !== undefined && !(testAccuracy >= 0 && testAccuracy <= 1)) bad('test_accuracy', 'a number in [0, 1]', metadata.test_accuracy);
  return {
    model: metadata.model,
    modelOptions: options,
    classes: classNames,
    inputShape: inputShape as [number, number, number],
    mean: stats('mean', false),
    std: stats('std', true),
    cropPct,
    epoch,
    testAccuracy,
    embeddingSize,
    loss,
  };
}

function weightsMetadata(info: WeightsInfo): Record<string, string> {
  const metadata: Record<string, string> = {
    format: 'pt',
    model: info.model,
    model_options: JSON.stringify(info.modelOptions),
    classes: JSON.stringify(info.classes),
    input_shape: JSON.stringify(info.inputShape),
    mean: JSON.stringify(info.mean),
    std: JSON.stringify(info.std),
    crop_pct: String(info.cropPct),
  };
  if (info.epoch !== undefined) metadata.epoch = String(info.epoch);
  if (info.testAccuracy !== undefined) metadata.test_accuracy = String(info.testAccuracy);
  if (info.embeddingSize !== undefined) metadata.embedding_size = String(info.embeddingSize);
  if (info.loss !== undefined) metadata.loss = info.loss;
  return metadata;
}

/** Keys of `tensors` that hold a NaN or an infinity. */
export function nonFiniteKeys(tensors: StateDict): string[] {
  return Object.entries(tensors)
    .filter(([, tensor]) => tensor.device !== 'meta' && countNonFinite(tensor) > 0)
    .map(([key]) => key);
}

/** A checkpoint would hold NaN or infinite weights: it is not written, the previous one stays. */
export class NonFiniteWeightsError extends Error {
  constructor(
    readonly keys: string[],
    readonly file: string,
  ) {
    const shown = keys.slice(0, 5).join(', ') + (keys.length > 5 ? `, and ${keys.length - 5} more` : '');
    super(
      `the weights hold NaN or infinite values (${shown}), so ${file} was not written and the previous checkpoint is kept. ` +
        'Try a lower --lr, a warm-up (--warmup-epochs) or --clip-grad-norm.',
    );
    this.name = 'NonFiniteWeightsError';
  }
}

function assertFiniteWeights(tensors: StateDict, file: string): void {
  const bad = nonFiniteKeys(tensors);
  if (bad.length > 0) throw new NonFiniteWeightsError(bad, file);
}

export class RunDirectory {
  readonly path: string;

  constructor(
    path: string,
    /** Written into every weights file. */
    readonly weightsInfo: WeightsInfo,
    /** Heads the curves chart. */
    readonly title = `${weightsInfo.model}`,
    /** A loss head with trained tensors (an embedding run's class centres): saved as head.safetensors and in the state file. */
    readonly head?: Module<never, unknown>,
  ) {
    this.path = resolve(path);
    mkdirSync(this.path, { recursive: true });
  }

  file(name: keyof typeof RUN_FILES): string {
    return join(this.path, RUN_FILES[name]);
  }
  get lastPath(): string {
    return this.file('last');
  }
  hasLast(): boolean {
    return existsSync(this.file('last'));
  }

  writeConfig(config: unknown): void {
    writeFileAtomic(this.file('config'), new TextEncoder().encode(`${JSON.stringify(config, null, 2)}\n`));
  }

  readMetrics(): EpochRecord[] {
    return readMetricsFile(this.file('metrics'));
  }

  /** Appends one epoch's line (rewriting the small file atomically keeps it whole on a crash). */
  appendMetrics(record: EpochRecord): void {
    const records = this.readMetrics().filter((r) => r.epoch < record.epoch);
    records.push(record);
    this.writeMetrics(records);
  }

  /** Keeps the lines of epochs up to `epochs` (a resumed run drops any written after its state). */
  truncateMetrics(epochs: number): void {
    if (!existsSync(this.file('metrics'))) return;
    this.writeMetrics(this.readMetrics().filter((r) => r.epoch <= epochs));
  }

  private writeMetrics(records: EpochRecord[]): void {
    writeFileAtomic(this.file('metrics'), new TextEncoder().encode(records.map((r) => JSON.stringify(r)).join('\n') + (records.length ? '\n' : '')));
  }

  saveWeights(which: 'last' | 'best' | 'ema', model: Module, record?: EpochRecord): void {
    const testAccuracy = which === 'ema' ? record?.emaTestAccuracy : record?.testAccuracy;
    const info = { ...this.weightsInfo, epoch: record?.epoch, testAccuracy };
    const dict = model.stateDict();
    const headDict = this.head && which === 'last' ? this.head.stateDict() : undefined;
    try {
      // Both are checked before either is written: a non-finite checkpoint never replaces a good one.
      assertFiniteWeights(dict, this.file(which));
      if (headDict) assertFiniteWeights(headDict, this.file('head'));
      saveSafetensors(dict, this.file(which), weightsMetadata(info));
      if (headDict) saveSafetensors(headDict, this.file('head'), weightsMetadata(info));
    } finally {
      dispose(dict);
      if (headDict) dispose(headDict);
    }
  }

  /** Writes everything resuming needs, in one file, atomically. */
  saveState(model: Module, optimizer: Optimizer, state: TrainingState, ema?: Module): void {
    const tensors: StateDict = {};
    const modelState = model.stateDict();
    const headState = this.head?.stateDict() ?? {};
    for (const [key, tensor] of Object.entries(modelState)) tensors[`model.${key}`] = tensor;
    for (const [key, tensor] of Object.entries(headState)) tensors[`head.${key}`] = tensor;
    const emaState = ema?.stateDict() ?? {};
    for (const [key, tensor] of Object.entries(emaState)) tensors[`ema.${key}`] = tensor;
    const optimizerState = optimizer.stateDict();
    for (const [key, tensor] of Object.entries(optimizerState.tensors)) tensors[`optimizer.${key}`] = tensor;
    try {
      assertFiniteWeights(tensors, this.file('state'));
      saveSafetensors(tensors, this.file('state'), {
        version: String(STATE_VERSION),
        training: JSON.stringify(state),
        optimizer: JSON.stringify(optimizerState.meta),
      });
    } finally {
      dispose(modelState);
      dispose(headState);
      dispose(emaState);
    }
  }

  /** Throws NonFiniteWeightsError, before anything of the epoch is written, when the model's weights are not finite. */
  checkWeights(model: Module): void {
    const dict = model.stateDict();
    try {
      assertFiniteWeights(dict, this.file('last'));
    } finally {
      dispose(dict);
    }
  }

  hasState(): boolean {
    return existsSync(this.file('state'));
  }

  /** Loads the state file into `model`, `optimizer` and the EMA's module; returns where training stood. */
  loadState(model: Module, optimizer: Optimizer, ema?: Module): TrainingState {
    const path = this.file('state');
    if (!existsSync(path)) {
      throw new Error(`${this.path} has no ${RUN_FILES.state} to resume from: the run stopped before its first checkpoint (start it again without --resume), or it was not made by 'resnets train'`);
    }
    const { tensors, metadata } = decodeSafetensors(readFileSync(path), path);
    try {
      if (metadata.version !== String(STATE_VERSION) || !metadata.training || !metadata.optimizer) {
        throw new Error(`${path} is not a training state this version can resume (version '${metadata.version ?? 'none'}')`);
      }
      const modelTensors: StateDict = {};
      const headTensors: StateDict = {};
      const optimizerTensors: Record<string, Tensor> = {};
      const emaTensors: StateDict = {};
      for (const [key, tensor] of Object.entries(tensors)) {
        if (key.startsWith('model.')) modelTensors[key.slice('model.'.length)] = tensor;
        else if (key.startsWith('head.') && this.head) headTensors[key.slice('head.'.length)] = tensor;
        else if (key.startsWith('optimizer.')) optimizerTensors[key.slice('optimizer.'.length)] = tensor;
        else if (key.startsWith('ema.')) emaTensors[key.slice('ema.'.length)] = tensor;
        else throw new Error(`${path}: unexpected tensor '${key}'`);
      }
      const training = parseTrainingState(parseJson(metadata.training, `${path}: the training record`));
      const badWeights = [...nonFiniteKeys(modelTensors), ...nonFiniteKeys(headTensors).map((key) => `head.${key}`)];
      if (badWeights.length > 0) throw new Error(`${path}: the model weights hold NaN or infinite values (${badWeights.slice(0, 5).join(', ')})`);
      model.loadStateDict(modelTensors);
      this.head?.loadStateDict(headTensors);
      if (ema) {
        if (Object.keys(emaTensors).length === 0) throw new Error(`${path} has no model EMA to resume (the run was started without model EMA)`);
        ema.loadStateDict(emaTensors);
      }
      try {
        optimizer.loadStateDict({ tensors: optimizerTensors, meta: parseJson(metadata.optimizer, `${path}: the optimizer record`) as OptimizerMeta });
      } catch (error) {
        throw new Error(`${path}: ${(error as Error).message}`);
      }
      return training;
    } finally {
      dispose(tensors);
    }
  }

  writeCurves(): void {
    const points: CurvePoint[] = this.readMetrics();
    writeFileAtomic(this.file('curves'), new TextEncoder().encode(renderCurves(points, this.title)));
  }
}

function parseJson(text: string, what: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    throw new Error(`${what} is not valid JSON: ${text.slice(0, 100)}`);
  }
}

/**
 * A training record from a state file, every field checked: a field that is missing or
 * of the wrong type would resume at another step (or crash later) with no complaint.
 */
export function parseTrainingState(value: unknown): TrainingState {
  const fail = (what: string): never => {
    throw new Error(`the training record in the state file is damaged: ${what}`);
  };
  if (typeof value !== 'object' || value === null || Array.isArray(value)) fail(`expected an object, got ${JSON.stringify(value)}`);
  const record = value as Record<string, unknown>;
  const count = (v: unknown, key: string): number =>
    Number.isSafeInteger(v) && (v as number) >= 0 ? (v as number) : fail(`'${key}' must be a non-negative integer, got ${JSON.stringify(v)}`);
  const finite = (v: unknown, key: string): number =>
    typeof v === 'number' && Number.isFinite(v) && v >= 0 ? v : fail(`'${key}' must be a finite non-negative number, got ${JSON.stringify(v)}`);
  const epoch = count(record.epoch, 'epoch');
  const batch = count(record.batch, 'batch');
  const iteration = count(record.iteration, 'iteration');
  const bestEpoch = count(record.bestEpoch, 'bestEpoch');
  const seed = count(record.seed, 'seed');
  const bestAccuracy = record.bestAccuracy;
  if (typeof bestAccuracy !== 'number' || !(bestAccuracy === -1 || (bestAccuracy >= 0 && bestAccuracy <= 1))) {
    fail(`'bestAccuracy' must be -1 (no epoch yet) or a number in [0, 1], got ${JSON.stringify(bestAccuracy)}`);
  }
  const partial = record.partial as Record<string, unknown> | null;
  if (typeof partial !== 'object' || partial === null || Array.isArray(partial)) fail(`'partial' must be an object, got ${JSON.stringify(partial)}`);
  const p = partial as Record<string, unknown>;
  const sums = { lossSum: finite(p.lossSum, 'partial.lossSum'), correct: count(p.correct, 'partial.correct'), seen: count(p.seen, 'partial.seen'), seconds: finite(p.seconds, 'partial.seconds') };
  if (sums.correct > sums.seen) fail(`'partial.correct' (${sums.correct}) exceeds 'partial.seen' (${sums.seen})`);
  if ((batch === 0) !== (sums.seen === 0)) fail(`batch ${batch} of the epoch with ${sums.seen} images seen`);
  if (iteration < batch) fail(`step ${iteration} is before batch ${batch} of the epoch`);
  if (bestEpoch > epoch) fail(`the best epoch (${bestEpoch}) is after the current one (${epoch})`);
  // The recipes' records (plateau, early stopping) are kept as they are, checked for shape.
  for (const key of ['plateau', 'earlyStopping'] as const) {
    const value = record[key];
    if (value !== undefined && (typeof value !== 'object' || value === null || Array.isArray(value))) fail(`'${key}' must be an object, got ${JSON.stringify(value)}`);
  }
  if (record.earlyStoppedAt !== undefined) count(record.earlyStoppedAt, 'earlyStoppedAt');
  if (record.worldSize !== undefined && count(record.worldSize, 'worldSize') < 1) fail(`'worldSize' must be at least 1`);
  return { ...(record as unknown as TrainingState), epoch, batch, iteration, bestAccuracy: bestAccuracy as number, bestEpoch, seed, partial: sums };
}

export function readMetricsFile(path: string): EpochRecord[] {
  if (!existsSync(path)) return [];
  const records: EpochRecord[] = [];
  readFileSync(path, 'utf8')
    .split('\n')
    .forEach((line, i) => {
      if (line.trim() === '') return;
      try {
        records.push(JSON.parse(line) as EpochRecord);
      } catch {
        throw new Error(`${path}: line ${i + 1} is not JSON`);
      }
    });
  return records;
}

/** Reads a run's config.json. */
export function readRunConfig<T>(runDir: string): T {
  const path = join(resolve(runDir), RUN_FILES.config);
  if (!existsSync(path)) throw new Error(`${runDir} is not a training run: ${RUN_FILES.config} is missing`);
  return parseJson(readFileSync(path, 'utf8'), path) as T;
}
