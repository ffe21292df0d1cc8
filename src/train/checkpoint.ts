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

/** Reads the model description from a weights file written by a training run. */
export function readWeightsInfo(path: string): WeightsInfo | undefined {
  const metadata = loadSafetensorsMetadata(path);
  if (!metadata.model) return undefined;
  const json = <T>(key: string, fallback: T): T => (metadata[key] ? (JSON.parse(metadata[key]) as T) : fallback);
  return {
    model: metadata.model,
    modelOptions: json('model_options', {}),
    classes: json('classes', []),
    inputShape: json('input_shape', [0, 0, 0]),
    mean: json('mean', []),
    std: json('std', []),
    cropPct: metadata.crop_pct ? Number(metadata.crop_pct) : 1,
    epoch: metadata.epoch ? Number(metadata.epoch) : undefined,
    testAccuracy: metadata.test_accuracy ? Number(metadata.test_accuracy) : undefined,
    embeddingSize: metadata.embedding_size ? Number(metadata.embedding_size) : undefined,
    loss: metadata.loss,
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
    try {
      saveSafetensors(dict, this.file(which), weightsMetadata(info));
    } finally {
      dispose(dict);
    }
    if (this.head && which === 'last') {
      const headDict = this.head.stateDict();
      try {
        saveSafetensors(headDict, this.file('head'), weightsMetadata(info));
      } finally {
        dispose(headDict);
      }
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
      model.loadStateDict(modelTensors);
      this.head?.loadStateDict(headTensors);
      if (ema) {
        if (Object.keys(emaTensors).length === 0) throw new Error(`${path} has no model EMA to resume (the run was started without model EMA)`);
        ema.loadStateDict(emaTensors);
      }
      optimizer.loadStateDict({ tensors: optimizerTensors, meta: JSON.parse(metadata.optimizer) as OptimizerMeta });
      return JSON.parse(metadata.training) as TrainingState;
    } finally {
      dispose(tensors);
    }
  }

  writeCurves(): void {
    const points: CurvePoint[] = this.readMetrics();
    writeFileAtomic(this.file('curves'), new TextEncoder().encode(renderCurves(points, this.title)));
  }
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
  return JSON.parse(readFileSync(path, 'utf8')) as T;
}
