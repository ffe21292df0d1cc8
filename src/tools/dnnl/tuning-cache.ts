// Tuned kernel choices kept between runs. Timing every kernel for every convolution costs
// seconds per input shape (about 2 s for a ResNet-50 at batch 1, 10 s at batch 8); the
// choices depend only on the CPU, oneDNN, the thread count and each convolution's shapes
// and layouts, so the first plan built on a machine records them and later plans read
// them. One file per oneDNN version, instruction set and CPU model in $RESNETS_HOME/tuning;
// RESNETS_TUNING_CACHE=FILE names another, RESNETS_TUNING_CACHE=off keeps them in this process only.
import { createHash, randomBytes } from 'node:crypto';
import { mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { threadId } from 'node:worker_threads';
import { resnetsHome } from '../../models/weights-cache.js';
import { native } from '../../native.js';
import type { DnnlTuningChoice } from '../../native-api.js';
import { cpuModel } from '../../torch/cpu-features.js';

/**
 * The whole plans a tuned build weighs against each other: the tuned kernels, and one
 * algorithm throughout (Winograd for the 3x3 stride-1 convolutions, in fp32, where a model
 * has them; else direct). Each tuned kernel was chosen alone, and the layouts it picked can
 * cost the next convolution more than it saved, so a single-algorithm plan can be faster.
 */
export const PLAN_KINDS = ['tuned', 'winograd', 'direct'] as const;
export type PlanKind = (typeof PLAN_KINDS)[number];

/** Which whole plan ran fastest, and each built plan's best forward in milliseconds. */
export interface PlanDecision {
  kept: PlanKind;
  timesMs: Partial<Record<PlanKind, number>>;
}

interface TuningRecord {
  format: typeof FORMAT;
  cpu: string;
  /** convolution problem -> the kernel and layouts chosen */
  convolutions: Record<string, string>;
  /** planKey -> decision */
  plans: Record<string, PlanDecision>;
}

// 2: a decision weighs every plan kind. Format 1's convolution choices still hold; its
// decisions (tuned against direct only) fail isDecision and are made again.
const FORMAT = 2;
const READABLE_FORMATS = [1, FORMAT];

/** The file this machine's choices live in, or undefined when RESNETS_TUNING_CACHE=off. */
export function tuningCachePath(): string | undefined {
  const setting = process.env.RESNETS_TUNING_CACHE;
  if (setting === 'off') return undefined;
  if (setting) return setting;
  const { version, isa } = native.dnnlCpuInfo();
  // The CPU model in the name too: machines sharing a $RESNETS_HOME keep a file each.
  const cpu = createHash('sha256').update(cpuModel()).digest('hex').slice(0, 8);
  return join(resnetsHome(), 'tuning', `dnnl-${version}-${isa}-${cpu}.json`);
}

// Per file (tests and users may point RESNETS_TUNING_CACHE elsewhere); '' is the in-process record.
const loaded = new Map<string, TuningRecord>();

function emptyRecord(): TuningRecord {
  return { format: FORMAT, cpu: cpuModel(), convolutions: {}, plans: {} };
}

const isRecord = (value: unknown): value is Record<string, unknown> => typeof value === 'object' && value !== null && !Array.isArray(value);

function isDecision(value: unknown): value is PlanDecision {
  if (!isRecord(value) || !isRecord(value.timesMs) || !PLAN_KINDS.includes(value.kept as PlanKind)) return false;
  const times = Object.entries(value.timesMs);
  return (
    times.every(([kind, ms]) => PLAN_KINDS.includes(kind as PlanKind) && typeof ms === 'number' && ms > 0 && Number.isFinite(ms)) &&
    value.timesMs.tuned !== undefined &&
    value.timesMs.direct !== undefined &&
    value.timesMs[value.kept as PlanKind] !== undefined
  );
}

/**
 * The record on disk when it is this CPU's and in a format this reads, keeping only well-formed
 * entries; a missing, unreadable or foreign file reads as empty (and is replaced on save).
 */
function readRecord(path: string): TuningRecord {
  let parsed: unknown;
  try {
    parsed = JSON.parse(readFileSync(path, 'utf8'));
  } catch {
    return emptyRecord();
  }
  if (!isRecord(parsed) || !READABLE_FORMATS.includes(parsed.format as number) || parsed.cpu !== cpuModel() || !isRecord(parsed.convolutions) || !isRecord(parsed.plans)) return emptyRecord();
  const record = emptyRecord();
  for (const [problem, choice] of Object.entries(parsed.convolutions)) if (typeof choice === 'string') record.convolutions[problem] = choice;
  for (const [key, decision] of Object.entries(parsed.plans)) if (isDecision(decision)) record.plans[key] = { kept: decision.kept, timesMs: { ...decision.timesMs } };
  return record;
}

function record(): { path?: string; tuning: TuningRecord } {
  const path = tuningCachePath();
  const key = path ?? '';
  let tuning = loaded.get(key);
  if (!tuning) {
    tuning = path ? readRecord(path) : emptyRecord();
    loaded.set(key, tuning);
  }
  return { path, tuning };
}

/** Choices recorded before, for the plan builder's knownChoices. */
export function knownConvolutionChoices(): Record<string, string> {
  return record().tuning.convolutions;
}

/** The key of a plan: its input, precision and every convolution's problem and choice, in order. */
export function planKey(shape: number[], precision: string, choices: DnnlTuningChoice[]): string {
  const hash = createHash('sha256').update(JSON.stringify([shape, precision, choices.map(({ problem, choice }) => [problem, choice])]));
  return hash.digest('hex');
}

export function knownPlanDecision(key: string): PlanDecision | undefined {
  return record().tuning.plans[key];
}

let warnedUnwritable = false;

/** Records a plan's choices and decision, in this process and in the file (written whole, then renamed into place) when any is new. */
export function rememberTuning(choices: DnnlTuningChoice[], key: string, decision: PlanDecision): void {
  const { path, tuning } = record();
  const isNew = tuning.plans[key] === undefined || choices.some(({ problem, choice }) => tuning.convolutions[problem] !== choice);
  for (const { problem, choice } of choices) tuning.convolutions[problem] = choice;
  tuning.plans[key] = { kept: decision.kept, timesMs: { ...decision.timesMs } };
  if (!path || !isNew) return;
  // Worker threads of one process may write at once: the temporary name is theirs alone.
  const temporary = `${path}.${process.pid}-${threadId}-${randomBytes(4).toString('hex')}.tmp`;
  try {
    // Another process may have added entries since this one read the file: keep them too.
    const current = readRecord(path);
    const merged: TuningRecord = {
      ...tuning,
      convolutions: { ...current.convolutions, ...tuning.convolutions },
      plans: { ...current.plans, ...tuning.plans },
    };
    loaded.set(path, merged);
    mkdirSync(dirname(path), { recursive: true });
    writeFileSync(temporary, `${JSON.stringify(merged, null, 1)}\n`);
    renameSync(temporary, path);
  } catch (error) {
    rmSync(temporary, { force: true });
    if (warnedUnwritable) return;
    warnedUnwritable = true;
    process.emitWarning(`the oneDNN tuning cache ${path} could not be written (${(error as Error).message}); choices are kept in this process only`, {
      code: 'RESNETS_TUNING_CACHE',
    });
  }
}
