// A model run by a compiled oneDNN plan (native/dnnl_*.cc): one plan per input shape,
// each built from a graph captured at that shape and lowered by lower.ts, its weights
// reordered once for the kernels oneDNN picked. Dense float32 in, dense float32 out.
import { native } from '../../native.js';
import type { DnnlPlanHandle, DnnlPlanInfo } from '../../native-api.js';
import { Module } from '../../nn/module.js';
import { tidy } from '../../torch/scope.js';
import { Tensor } from '../../torch/tensor.js';
import { captureGraph, disposeGraph } from '../graph/capture.js';
import { refuseNonFiniteInput } from '../mkldnn.js';
import { lowerGraph, type ConvAlgorithm, type DnnlPrecision } from './lower.js';

export interface DnnlOptions {
  precision?: DnnlPrecision;
  convAlgorithm?: ConvAlgorithm;
}

interface CompiledPlan {
  handle: DnnlPlanHandle;
  outputShapes: number[][];
}

/** Plans kept per model: each holds its own reordered weights. */
const MAX_PLANS = 3;

/** Compiles `model` (eval mode) for inputs of `shape`; fails naming the first op oneDNN cannot run. */
function compile(model: Module<Tensor, unknown>, shape: number[], options: Required<DnnlOptions>): CompiledPlan {
  const graph = captureGraph(model, { input: shape });
  try {
    return tidy(() => {
      const lowered = lowerGraph(graph, options);
      return { handle: native.dnnlPlanCreate(lowered.spec), outputShapes: lowered.outputShapes };
    });
  } finally {
    disposeGraph(graph);
  }
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

  /** Each step of the plan for `shape` with the kernel oneDNN chose, and its memory. */
  describe(shape: number[]): DnnlPlanInfo {
    return native.dnnlPlanInfo(this.plan(shape).handle);
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
