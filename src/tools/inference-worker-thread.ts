// The worker side of InferenceWorker: loads the model once, then answers each request
// with a forward pass, one at a time in arrival order, off the main thread.
import { parentPort, workerData } from 'node:worker_threads';
import type { ImageClassifier } from '../models/classifier.js';
import { createClassifierByName, getModelInfo } from '../models/index.js';
import { fromBytes } from '../torch/creation.js';
import { noGrad, setNumThreads } from '../torch/runtime.js';
import { tidy } from '../torch/scope.js';
import type { Tensor } from '../torch/tensor.js';
import { loadPlainCheckpoint } from '../train/pretrained.js';
import { loadInto, loadTrainedModel } from '../train/trained-model.js';
import { fastestFaithfulModel, modeName } from './inference-modes.js';
import type { InferenceRequest, InferenceWorkerOptions, WorkerReply } from './inference-worker.js';

type ImageModel = ImageClassifier & ((input: Tensor) => Tensor);

const options = workerData as InferenceWorkerOptions;
const port = parentPort!;

/** The model with its weights: a training run's file says which model and options; other files must fit `options`. */
function build(): { model: ImageClassifier; inputSize: [number, number, number] } {
  const info = getModelInfo(options.model);
  const trained = options.weights ? loadTrainedModel(options.weights, options.model) : undefined;
  if (trained) return { model: trained.model, inputSize: options.inputSize ?? trained.info.inputShape };
  const model = options.weights ? loadPlainCheckpoint(options.model, options.weights, options.numClasses) : createClassifierByName(options.model, { numClasses: options.numClasses });
  const [, height, width] = info.defaultInputSize;
  return { model, inputSize: options.inputSize ?? [model.inChans, height, width] };
}

function start(): ImageModel {
  if (options.threads !== undefined) setNumThreads(options.threads);
  const { model, inputSize } = build();
  if (options.mode === 'plain') {
    model.eval();
    port.postMessage({ type: 'ready', mode: 'plain', difference: 0 } satisfies WorkerReply);
    return model as unknown as ImageModel;
  }
  // Each candidate mode changes a model in place, so every try gets its own copy.
  const chosen = fastestFaithfulModel(() => model.clone() as unknown as ImageModel, [1, ...inputSize]);
  model.dispose();
  port.postMessage({ type: 'ready', mode: modeName(chosen.mode), difference: chosen.difference } satisfies WorkerReply);
  return chosen.model as unknown as ImageModel;
}

let model: ImageModel;
try {
  model = start();
} catch (error) {
  port.postMessage({ type: 'failed', message: (error as Error).message } satisfies WorkerReply);
  process.exit(1);
}

port.on('message', (request: InferenceRequest) => {
  try {
    const { data, shape } = tidy(() => {
      const input = fromBytes(new Uint8Array(request.data.buffer, request.data.byteOffset, request.data.byteLength), 'float32', request.shape);
      const output = noGrad(() => model.call(input)).float().contiguous();
      return { data: output.toTypedArray() as Float32Array, shape: output.shape };
    });
    port.postMessage({ type: 'result', id: request.id, data, shape } satisfies WorkerReply, [data.buffer as ArrayBuffer]);
  } catch (error) {
    port.postMessage({ type: 'error', id: request.id, message: (error as Error).message } satisfies WorkerReply);
  }
});
