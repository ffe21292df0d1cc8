// Activation checkpointing: peak memory and time of a training step with and without
// it. Each configuration runs in a process of its own, so the resident-set high-water
// mark (VmHWM) belongs to that configuration alone; inside it, libtorch's CPU
// allocations are counted (autograd's saved tensors included) for the peak of live
// tensor bytes during a step.
//
//   node --import tsx bench/checkpoint-memory.ts [--threads 2] [--steps 3] [--json]
//        [--cases resnet152:32:128,densenet121:64:128] [--segments N]
//
// The issue's sizes are the default cases: resnet152 at batch 32 and densenet121 at
// batch 64, both on 128x128 inputs.
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { native } from '../src/native.js';
import { cpuFeatures } from '../src/torch/cpu-features.js';
import { torch } from '../src/index.js';
import { createClassifierByName } from '../src/models/index.js';
import { SGD } from '../src/train/optim/sgd.js';

const { values: args } = parseArgs({
  options: {
    threads: { type: 'string', default: '2' },
    steps: { type: 'string', default: '3' },
    cases: { type: 'string', default: 'resnet152:32:128,densenet121:64:128' },
    segments: { type: 'string' },
    json: { type: 'boolean', default: false },
    // Internal: run one configuration and print its JSON.
    child: { type: 'string' },
    checkpoint: { type: 'boolean', default: false },
  },
});

interface StepFigures {
  model: string;
  batch: number;
  size: number;
  checkpointing: boolean;
  /** Median seconds per training step (forward, loss, backward, SGD). */
  secondsPerStep: number;
  /** Highest live tensor bytes during a step, above what was live before it (weights, gradients, optimizer state, the batch). */
  peakStepBytes: number;
  /** The same peak including everything live (weights and all). */
  peakTensorBytes: number;
  /** The process's resident-set high-water mark. */
  peakRssBytes: number;
}

const median = (values: number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)];

function vmHwmBytes(): number {
  const match = /VmHWM:\s+(\d+) kB/.exec(readFileSync('/proc/self/status', 'utf8'));
  return match ? Number(match[1]) * 1024 : NaN;
}

function runChild(spec: string): StepFigures {
  const [model, batch, size] = spec.split(':');
  const [batchSize, imageSize] = [Number(batch), Number(size)];
  native.allocatorStats(); // installs the counting allocator before anything is allocated
  torch.setNumThreads(Number(args.threads));
  torch.manualSeed(0);
  const net = createClassifierByName(model, { numClasses: 10 });
  if (args.checkpoint) net.setGradCheckpointing(args.segments ? { segments: Number(args.segments) } : true);
  net.train();
  const optimizer = new SGD(net.parameters(), { lr: 0.01, momentum: 0.9 });
  const images = torch.randn([batchSize, 3, imageSize, imageSize]);
  const labels = torch.randint(0, 10, [batchSize]);
  // Gradients stay allocated between steps (set to zero, not freed), as in a long run.
  const step = () =>
    torch.tidy(() => {
      const loss = torch.crossEntropy(net.call(images), labels);
      loss.backward();
      optimizer.step();
      for (const p of net.parameters()) p.grad?.zero_();
    });
  step(); // warm-up: gradients, momentum buffers, oneDNN primitives
  const times: number[] = [];
  let peakStep = 0;
  let peakTotal = 0;
  for (let i = 0; i < Number(args.steps); i++) {
    const before = native.allocatorStats().currentBytes;
    native.resetPeakAllocatorBytes();
    const started = performance.now();
    step();
    times.push((performance.now() - started) / 1000);
    const peak = native.allocatorStats().peakBytes;
    peakStep = Math.max(peakStep, peak - before);
    peakTotal = Math.max(peakTotal, peak);
  }
  return {
    model,
    batch: batchSize,
    size: imageSize,
    checkpointing: args.checkpoint ?? false,
    secondsPerStep: median(times),
    peakStepBytes: peakStep,
    peakTensorBytes: peakTotal,
    peakRssBytes: vmHwmBytes(),
  };
}

function runConfiguration(spec: string, checkpoint: boolean): StepFigures {
  const childArgs = ['--import', 'tsx', fileURLToPath(import.meta.url), '--child', spec, '--threads', args.threads!, '--steps', args.steps!];
  if (checkpoint) childArgs.push('--checkpoint');
  if (args.segments) childArgs.push('--segments', args.segments);
  const output = execFileSync(process.execPath, childArgs, { encoding: 'utf8', env: { ...process.env, RESNETS_NUM_THREADS: args.threads } });
  return JSON.parse(output.trim().split('\n').pop()!) as StepFigures;
}

if (args.child) {
  console.log(JSON.stringify(runChild(args.child)));
} else {
  const { model: cpu, isa: isaFlags } = cpuFeatures();
  const isa = isaFlags.join(' ');
  const rows: { plain: StepFigures; checkpointed: StepFigures }[] = [];
  for (const spec of args.cases!.split(',')) rows.push({ plain: runConfiguration(spec, false), checkpointed: runConfiguration(spec, true) });
  if (args.json) {
    console.log(JSON.stringify({ cpu, isa, threads: Number(args.threads), segments: args.segments ?? 'every block', rows }, null, 2));
  } else {
    const mib = (bytes: number) => (bytes / 2 ** 20).toFixed(0).padStart(7);
    console.log(`${cpu} (${isa}), ${args.threads} threads; median of ${args.steps} steps after a warm-up; checkpointing: ${args.segments ? `${args.segments} segments` : 'setGradCheckpointing(true)'}`);
    console.log('model          batch  size  checkpointing  s/step  step peak MiB  tensor peak MiB  RSS peak MiB');
    for (const { plain, checkpointed } of rows) {
      for (const r of [plain, checkpointed]) {
        console.log(
          `${r.model.padEnd(14)} ${String(r.batch).padStart(5)} ${String(r.size).padStart(5)}  ${(r.checkpointing ? 'on' : 'off').padEnd(13)} ${r.secondsPerStep.toFixed(2).padStart(6)}  ${mib(r.peakStepBytes).padStart(13)}  ${mib(r.peakTensorBytes).padStart(15)}  ${mib(r.peakRssBytes).padStart(12)}`,
        );
      }
      console.log(
        `  -> step peak ${(plain.peakStepBytes / checkpointed.peakStepBytes).toFixed(2)}x lower, RSS peak ${(plain.peakRssBytes / checkpointed.peakRssBytes).toFixed(2)}x lower, time ${((checkpointed.secondsPerStep / plain.secondsPerStep - 1) * 100).toFixed(0)}% more`,
      );
    }
  }
}
