// Learning-rate schedules as pure functions of the iteration (0-based, one per batch),
// so a resumed run needs only the iteration to continue the schedule exactly. The one
// exception, reduce-on-plateau, reads its lr from a controller whose state the run saves.
import { count } from './progress.js';
import { ReduceLROnPlateau, type PlateauShape } from './plateau.js';

export interface Schedule {
  /** The learning rate for the update made at `iteration`. */
  lrAt(iteration: number): number;
  /** A short human description ("cosine 0.1 -> 0 over 11730 steps"). */
  readonly description: string;
  /** The momentum (or Adam's beta1) for the update at `iteration`, for schedules that cycle it (OneCycle). */
  momentumAt?(iteration: number): number;
  /** For the plateau schedule: the controller the loop steps with the monitored metric after every epoch. */
  plateau?: ReduceLROnPlateau;
}

export function constantSchedule(lr: number): Schedule {
  return { lrAt: () => lr, description: `constant ${lr}` };
}

/** lr * gamma^floor(iteration / stepSize), as torch's StepLR stepped every iteration. */
export function stepSchedule(options: { lr: number; stepSize: number; gamma?: number }): Schedule {
  const gamma = options.gamma ?? 0.1;
  if (!(options.stepSize > 0)) throw new Error(`step schedule: stepSize must be positive, got ${options.stepSize}`);
  return {
    lrAt: (iteration) => options.lr * gamma ** Math.floor(iteration / options.stepSize),
    description: `step ${options.lr} x${gamma} every ${options.stepSize} steps`,
  };
}

/** lr * gamma^(milestones passed), as torch's MultiStepLR. */
export function multiStepSchedule(options: { lr: number; milestones: number[]; gamma?: number }): Schedule {
  const gamma = options.gamma ?? 0.1;
  const milestones = [...options.milestones].sort((a, b) => a - b);
  return {
    lrAt: (iteration) => options.lr * gamma ** milestones.filter((m) => iteration >= m).length,
    description: `multistep ${options.lr} x${gamma} at steps ${milestones.join(', ')}`,
  };
}

/** Half a cosine from lr to minLr over totalIterations, then minLr (torch's CosineAnnealingLR closed form). */
export function cosineSchedule(options: { lr: number; totalIterations: number; minLr?: number }): Schedule {
  const minLr = options.minLr ?? 0;
  const total = options.totalIterations;
  if (!(total > 0)) throw new Error(`cosine schedule: totalIterations must be positive, got ${total}`);
  return {
    lrAt: (iteration) => (iteration >= total ? minLr : minLr + ((options.lr - minLr) * (1 + Math.cos((Math.PI * iteration) / total))) / 2),
    description: `cosine ${options.lr} -> ${minLr} over ${total} steps`,
  };
}

/**
 * A linear ramp from startFactor * lr to the schedule's own lr over `iterations`, then
 * `after` counted from the end of the warm-up (torch's LinearLR followed by the schedule).
 */
export function withWarmup(after: Schedule, options: { iterations: number; startFactor?: number }): Schedule {
  const warm = options.iterations;
  const start = options.startFactor ?? 0.1;
  if (warm <= 0) return after;
  const target = after.lrAt(0);
  return {
    lrAt: (iteration) => (iteration < warm ? target * (start + ((1 - start) * iteration) / warm) : after.lrAt(iteration - warm)),
    description: `linear warm-up over ${warm} steps from ${start}x, then ${after.description}`,
  };
}

/** OneCycleLR's shape: what a run's config and the command line set (the peak lr and length come from the run). */
export interface OneCycleShape {
  /** Share of the run spent rising to maxLr (default 0.3). */
  pctStart?: number;
  annealStrategy?: 'cos' | 'linear';
  /** The run starts at maxLr / divFactor (default 25). */
  divFactor?: number;
  /** ... and ends at maxLr / divFactor / finalDivFactor (default 1e4). */
  finalDivFactor?: number;
  /** Rise, fall back to the start, then anneal to the end (fast.ai's original), instead of rise then anneal. */
  threePhase?: boolean;
  /** Cycle the momentum inversely to the lr, between maxMomentum and baseMomentum (default true). */
  cycleMomentum?: boolean;
  baseMomentum?: number;
  maxMomentum?: number;
}

export interface OneCycleOptions extends OneCycleShape {
  /** The peak learning rate. */
  maxLr: number;
  totalIterations: number;
}

/**
 * Smith and Topin's one-cycle policy, exactly as torch.optim.lr_scheduler.OneCycleLR
 * stepped once per iteration (phases ending at float step indices, cosine or linear
 * annealing within each); past the last iteration it holds the final values.
 */
export function oneCycleSchedule(options: OneCycleOptions): Schedule {
  const { maxLr, totalIterations: total, pctStart = 0.3, annealStrategy = 'cos', divFactor = 25, finalDivFactor = 1e4, threePhase = false } = options;
  const { cycleMomentum = true, baseMomentum = 0.85, maxMomentum = 0.95 } = options;
  if (!Number.isInteger(total) || total <= 0) throw new Error(`onecycle schedule: totalIterations must be a positive integer, got ${total}`);
  if (!(pctStart >= 0 && pctStart <= 1)) throw new Error(`onecycle schedule: pctStart must be in [0, 1], got ${pctStart}`);
  if (!(divFactor > 0) || !(finalDivFactor > 0)) throw new Error(`onecycle schedule: divFactor and finalDivFactor must be positive, got ${divFactor} and ${finalDivFactor}`);
  const initialLr = maxLr / divFactor;
  const minLr = initialLr / finalDivFactor;
  type Phase = { end: number; lr: [number, number]; momentum: [number, number] };
  const phases: Phase[] = threePhase
    ? [
        { end: pctStart * total - 1, lr: [initialLr, maxLr], momentum: [maxMomentum, baseMomentum] },
        { end: 2 * pctStart * total - 2, lr: [maxLr, initialLr], momentum: [baseMomentum, maxMomentum] },
        { end: total - 1, lr: [initialLr, minLr], momentum: [maxMomentum, maxMomentum] },
      ]
    : [
        { end: pctStart * total - 1, lr: [initialLr, maxLr], momentum: [maxMomentum, baseMomentum] },
        { end: total - 1, lr: [maxLr, minLr], momentum: [baseMomentum, maxMomentum] },
      ];
  const anneal = annealStrategy === 'cos'
    ? (start: number, end: number, pct: number) => end + ((start - end) / 2) * (Math.cos(Math.PI * pct) + 1)
    : (start: number, end: number, pct: number) => (end - start) * pct + start;
  if (annealStrategy !== 'cos' && annealStrategy !== 'linear') throw new Error(`onecycle schedule: annealStrategy must be 'cos' or 'linear', got '${String(annealStrategy)}'`);
  const at = (iteration: number, which: 'lr' | 'momentum'): number => {
    const step = Math.min(iteration, total - 1);
    let start = 0;
    for (let i = 0; i < phases.length; i++) {
      const phase = phases[i];
      if (step <= phase.end || i === phases.length - 1) return anneal(phase[which][0], phase[which][1], (step - start) / (phase.end - start));
      start = phase.end;
    }
    throw new Error('unreachable');
  };
  return {
    lrAt: (iteration) => at(iteration, 'lr'),
    ...(cycleMomentum ? { momentumAt: (iteration: number) => at(iteration, 'momentum') } : {}),
    description: `onecycle ${initialLr} -> ${maxLr} -> ${minLr} over ${total} steps (${pctStart * 100}% rising${threePhase ? ', three phases' : ''})`,
  };
}

export type ScheduleName = 'constant' | 'step' | 'multistep' | 'cosine' | 'onecycle' | 'plateau';
export const scheduleNames: ScheduleName[] = ['constant', 'step', 'multistep', 'cosine', 'onecycle', 'plateau'];

/** A schedule described in epochs, the way the command line takes it. */
export interface ScheduleSpec {
  name: ScheduleName;
  lr: number;
  epochs: number;
  /** step: decay every this many epochs. */
  stepEpochs?: number;
  /** multistep: decay at these epochs. */
  milestones?: number[];
  gamma?: number;
  warmupEpochs?: number;
  warmupStartFactor?: number;
  /** cosine: the final lr; plateau: the lowest lr a reduction goes to. */
  minLr?: number;
  /** onecycle: OneCycleLR's pct_start, div_factor, final_div_factor, three_phase, cycle_momentum, base/max_momentum. */
  oneCycle?: OneCycleShape;
  /** plateau: ReduceLROnPlateau's patience, threshold, cooldown; its factor is `gamma` (default 0.1), its floor `minLr`. */
  plateau?: PlateauShape;
  /** plateau: 'min' for a monitored loss, 'max' for an accuracy. */
  plateauMode?: 'min' | 'max';
}

/**
 * Builds the per-iteration schedule from an epoch-based spec. Step and multistep decays
 * fall at the same epochs with or without a warm-up; cosine decays over what follows it.
 */
export function scheduleFromSpec(spec: ScheduleSpec, iterationsPerEpoch: number): Schedule {
  const warmupEpochs = spec.warmupEpochs ?? 0;
  if (spec.name === 'onecycle' && warmupEpochs > 0) {
    throw new Error('onecycle has its own warm-up (the first --pct-start of the run); leave out --warmup-epochs');
  }
  if (warmupEpochs > 0 && warmupEpochs >= spec.epochs) {
    throw new Error(`a warm-up of ${count(warmupEpochs, 'epoch')} would take the whole ${spec.epochs}-epoch run; make it shorter than the run`);
  }
  const warmup = Math.round(warmupEpochs * iterationsPerEpoch);
  const total = spec.epochs * iterationsPerEpoch;
  const epochs = (e: number) => Math.round(e * iterationsPerEpoch) - warmup;
  let main: Schedule;
  switch (spec.name) {
    case 'constant':
      main = constantSchedule(spec.lr);
      break;
    case 'step': {
      const stepSize = Math.round((spec.stepEpochs ?? Math.max(1, Math.floor(spec.epochs / 3))) * iterationsPerEpoch);
      const steps = stepSchedule({ lr: spec.lr, stepSize, gamma: spec.gamma });
      // withWarmup starts the main schedule's count after the warm-up: shift it back.
      main = { lrAt: (iteration) => steps.lrAt(iteration + warmup), description: steps.description };
      break;
    }
    case 'multistep': {
      const milestones = spec.milestones ?? [Math.round(spec.epochs / 2), Math.round((spec.epochs * 3) / 4)];
      main = multiStepSchedule({ lr: spec.lr, milestones: milestones.map(epochs), gamma: spec.gamma });
      break;
    }
    case 'cosine':
      main = cosineSchedule({ lr: spec.lr, totalIterations: Math.max(1, total - warmup), minLr: spec.minLr });
      break;
    case 'onecycle':
      return oneCycleSchedule({ ...spec.oneCycle, maxLr: spec.lr, totalIterations: total });
    case 'plateau': {
      const plateau = new ReduceLROnPlateau({ ...spec.plateau, lr: spec.lr, mode: spec.plateauMode, factor: spec.gamma, minLr: spec.minLr });
      main = {
        lrAt: () => plateau.lr,
        plateau,
        description: `reduce-on-plateau from ${spec.lr} (x${plateau.factor} after ${plateau.patience} epochs without improvement)`,
      };
      const warmed = withWarmup(main, { iterations: warmup, startFactor: spec.warmupStartFactor });
      return { ...warmed, lrAt: (iteration) => warmed.lrAt(iteration), plateau };
    }
    default:
      throw new Error(`unknown schedule '${String(spec.name)}'; expected one of ${scheduleNames.join(', ')}`);
  }
  return withWarmup(main, { iterations: warmup, startFactor: spec.warmupStartFactor });
}
