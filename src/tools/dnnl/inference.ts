// A model run by a compiled oneDNN plan (native/dnnl_*.cc): one plan per input shape,
// each built from a graph captured at that shape and lowered by lower.ts, its weights
// reordered once for the kernels oneDNN picked. Dense float32 in, dense float32 out.
import { native } from '../../native.js';
import type { DnnlPlanHandle, DnnlPlanInfo } from '../../native-api.js';
import { Module } from '../../nn/module.js';
import { randn } from '../../torch/creation.js';
import { tidy } from '../../torch/scope.js';
import { Tensor } from '../../torch/tensor.js';
import { captureGraph, disposeGraph } from '../graph/capture.js';
import { refuseNonFiniteInput } from '../mkldnn.js';
import { lowerGraph, type ConvAlgorithm, type DnnlPrecision, type LoweredPlan } from './lower.js';
import { knownConvolutionChoices, knownPlanDecision, planKey, rememberTuning, tuningCachePath, PLAN_KINDS, type PlanDecision, type PlanKind } from './tuning-cache.js';

export interface DnnlOptions {
  precision?: DnnlPrecision;
  convAlgorithm?: ConvAlgorithm;
}

interface CompiledPlan {
  handle: DnnlPlanHandle;
  outputShapes: number[][];
  /** With convAlgorithm 'tuned': how the plan's kernels were chosen, and which whole plan was kept. */
  tuning?: PlanTuning;
}

export interface PlanTuning extends PlanDecision {
  /** Tuned convolutions in the plan, and how many of them this build timed (the rest were chosen before, or repeat one). */
  convolutions: number;
  timed: number;
  /** Whether the decision between the plans came from the tuning cache rather than a measurement now. */
  decisionCached: boolean;
  /** The tuning cache file, unless RESNETS_TUNING_CACHE=off. */
  cacheFile?: string;
}

/** Forwards timed per plan when the tuned plan is weighed against the others. */
const TUNING_CHECK_RUNS = 5;

/** Plans kept per model: each holds its own reordered weights. */
const MAX_PLANS = 3;

/** Compiles `model` (eval mode) for inputs of `shape`; fails naming the first op oneDNN cannot run. */
function compile(model: Module<Tensor, unknown>, shape: number[], options: Required<DnnlOptions>): CompiledPlan {
  const graph = captureGraph(model, { input: shape });
  try {
    return tidy(() => {
      const lower = (convAlgorithm: ConvAlgorithm) => lowerGraph(graph, { ...options, convAlgorithm });
      const build = (lowered: LoweredPlan, knownChoices?: Record<string, string>) => {
        const spec = knownChoices ? { ...lowered.spec, knownChoices } : lowered.spec;
        return { handle: native.dnnlPlanCreate(spec), outputShapes: lowered.outputShapes };
      };
      if (options.convAlgorithm !== 'tuned') return build(lower(options.convAlgorithm));
      // Each plan holds packed weights: every one built here is freed unless it is the one returned.
      const built: CompiledPlan[] = [];
      const track = (plan: CompiledPlan) => (built.push(plan), plan);
      let returned: CompiledPlan | undefined;
      try {
        const tunedLowered = lower('tuned');
        const tuned = track(build(tunedLowered, knownConvolutionChoices()));
        const choices = native.dnnlPlanInfo(tuned.handle).tuningChoices ?? [];
        const key = planKey(shape, options.precision, choices);
        // Winograd applies where lower.ts left a convolution a choice of algorithm (3x3 stride-1, in fp32).
        const hasWinograd = tunedLowered.spec.nodes.some((node) => node.kind === 'conv' && node.algorithm !== 'direct');
        const kinds = PLAN_KINDS.filter((kind) => kind !== 'winograd' || hasWinograd);
        const plans = new Map<PlanKind, CompiledPlan>([['tuned', tuned]]);
        const planOf = (kind: PlanKind): CompiledPlan => {
          if (!plans.has(kind)) plans.set(kind, track(build(lower(kind))));
          return plans.get(kind)!;
        };
        const known = knownPlanDecision(key);
        const decisionCached = known !== undefined && kinds.includes(known.kept);
        let decision: PlanDecision;
        if (decisionCached) {
          decision = { kept: known.kept, timesMs: { ...known.timesMs } };
        } else {
          // Where oneDNN has no Winograd kernel for this CPU, the Winograd plan is the direct one again.
          const weighed = kinds.filter((kind) => kind !== 'winograd' || native.dnnlPlanInfo(planOf(kind).handle).steps.some((step) => step.impl.includes('wino')));
          const times = bestForwardTimes(weighed.map((kind) => planOf(kind).handle), randn(shape));
          const fastest = times.indexOf(Math.min(...times));
          decision = { kept: weighed[fastest], timesMs: Object.fromEntries(weighed.map((kind, i) => [kind, times[i]])) };
        }
        const kept = planOf(decision.kept);
        rememberTuning(choices, key, decision);
        const cacheFile = tuningCachePath();
        const tuning: PlanTuning = {
          ...decision,
          convolutions: choices.length,
          timed: choices.filter((choice) => choice.measured).length,
          decisionCached,
          ...(cacheFile ? { cacheFile } : {}),
        };
        returned = kept;
        return { ...kept, tuning };
      } finally {
        for (const plan of built) if (plan !== returned) native.dnnlPlanFree(plan.handle);
      }
    });
  } finally {
    disposeGraph(graph);
  }
}

/** Each plan's best forward on `input` in milliseconds, the plans' runs alternating. */
function bestForwardTimes(plans: DnnlPlanHandle[], input: Tensor): number[] {
  const best = plans.map(() => Infinity);
  for (let run = 0; run <= TUNING_CHECK_RUNS; run++) {
    plans.forEach((plan, i) => {
      const start = performance.now();
      for (const handle of native.dnnlPlanRun(plan, input.handle)) native.dispose(handle);
      if (run > 0) best[i] = Math.min(best[i], performance.now() - start);
    });
  }
  return best;
}

export class DnnlInference extends Module<Tensor, Tensor> {
  readonly options: Required<DnnlOptions>;
  readonly #plans = new Map<string, CompiledPlan>();

  constructor(
    readonly model: Module<Tensor, unknown>,
    options: DnnlOptions = {},
  ) {
    super();
    this.options = { precision: options.precision ?? 'fp32', convAlgorithm: options.convAlgorithm ?? 'direct' };
    this.registerModule('model', model as Module<unknown, unknown>);
    model.eval();
    this.eval();
  }

  override train(mode = true): this {
    if (mode) throw new Error('a model compiled to a oneDNN plan runs inference only');
    return super.train(false);
  }

  /** The plan for inputs of `shape`, compiled on first use. */
  plan(shape: number[]): CompiledPlan {
    const key = shape.join(',');
    let plan = this.#plans.get(key);
    if (!plan) {
      plan = compile(this.model, shape, this.options);
      if (this.#plans.size >= MAX_PLANS) {
        const [oldest, compiled] = this.#plans.entries().next().value!;
        native.dnnlPlanFree(compiled.handle);
        this.#plans.delete(oldest);
      }
      this.#plans.set(key, plan);
    }
    return plan;
  }

  /** Each step of the plan for `shape` with the kernel oneDNN chose, its memory, and how tuning went. */
  describe(shape: number[]): DnnlPlanInfo & { tuning?: PlanTuning } {
    const plan = this.plan(shape);
    return { ...native.dnnlPlanInfo(plan.handle), ...(plan.tuning ? { tuning: plan.tuning } : {}) };
  }

  forward(input: Tensor): Tensor {
    refuseNonFiniteInput(input, 'the oneDNN plan');
    const plan = this.plan(input.shape);
    const dense = input.dtype === 'float32' && input.device === 'cpu' ? input : input.float();
    return tidy(() => {
      const [output] = native.dnnlPlanRun(plan.handle, dense.contiguous().handle).map((handle) => new Tensor(handle));
      return output.reshape(plan.outputShapes[0]);
    });
  }

  /** Frees every compiled plan's weights and buffers now; the next forward compiles again. */
  releasePlans(): void {
    for (const compiled of this.#plans.values()) native.dnnlPlanFree(compiled.handle);
    this.#plans.clear();
  }

  override dispose(): void {
    this.releasePlans();
    super.dispose();
  }
}

/** The instruction set oneDNN dispatches to here ('avx512_core_amx') and its version. */
export function dnnlCpuInfo(): { isa: string; version: string } {
  return native.dnnlCpuInfo();
}
