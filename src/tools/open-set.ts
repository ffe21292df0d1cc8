// Open-set verification on Fashion-MNIST, a demonstration that needs no face data:
// an embedding network is trained on five classes (T-shirt/top, Trouser, Pullover,
// Dress, Coat) and judged on pairs drawn only from the five classes it never saw
// (Sandal, Shirt, Sneaker, Bag, Ankle boot), by LFW's 10-fold protocol, as a face model
// trained on some identities is judged on people it has never seen. The same network
// is trained with each loss (ArcFace and plain softmax cross-entropy by default).
import { join } from 'node:path';
import { fashionMnistClasses, loadFashionMnist } from '../data/fashion-mnist.js';
import { InMemoryDataset, keepClasses } from '../data/in-memory.js';
import { Random } from '../data/random.js';
import { writeFileAtomic } from '../io/atomic.js';
import { fromBytes } from '../torch/creation.js';
import type { EmbeddingLossName } from '../train/losses/embedding-heads.js';
import { renderRoc, type RocCurve } from '../train/roc-svg.js';
import { tidy } from '../torch/scope.js';
import { runSession, type RunConfigInput, type SessionOptions } from '../train/session.js';
import { exactRoc, type VerificationResult } from '../train/verification.js';
import { embedPixels, moduleEmbedder, verifyEmbeddingPairs, type Embedder } from './face-embedding.js';

export const SEEN_CLASSES = [0, 1, 2, 3, 4];
export const UNSEEN_CLASSES = [5, 6, 7, 8, 9];

export interface OpenSetOptions {
  out: string;
  model?: string;
  losses?: EmbeddingLossName[];
  embeddingSize?: number;
  epochs?: number;
  batchSize?: number;
  /** Training images per seen class, on average: the first perClass x 5 of the seen classes' 30000 (Fashion-MNIST's classes are mixed). */
  perClass?: number;
  /** Test images of the seen classes for the per-epoch closed-set accuracy (of 5000). */
  seenTestImages?: number;
  /** Pairs are drawn from the first N test images of the unseen classes (default all 5000). */
  unseenImages?: number;
  /** Verification pairs, a multiple of 20 (10 folds of equal same and different halves); LFW has 6000. */
  pairs?: number;
  seed?: number;
  dataDir?: string;
  session?: Pick<SessionOptions, 'prefetch' | 'shouldStop' | 'onStep' | 'onEpoch' | 'onEvaluate' | 'log'>;
}

export interface OpenSetResult {
  loss: EmbeddingLossName;
  run: string;
  /** Accuracy of the nearest class centre (or class) on the seen classes' test images. */
  closedSetAccuracy?: number;
  verification: VerificationResult;
}

/**
 * Pairs of `labels` indices laid out as LFW's pairs.txt: 10 sets, each of `pairs / 20`
 * same-class pairs (a random class, two different images) then as many different-class
 * pairs (two random classes), so each of the 10 folds holds both kinds equally.
 */
export function drawPairs(labels: ArrayLike<number>, pairs: number, seed: number): { indices: number[]; same: boolean[] } {
  if (!Number.isInteger(pairs) || pairs <= 0 || pairs % 20 !== 0) throw new Error(`the number of pairs must be a positive multiple of 20 (10 folds of same and different pairs), got ${pairs}`);
  const byClass = new Map<number, number[]>();
  for (let i = 0; i < labels.length; i++) byClass.set(labels[i], [...(byClass.get(labels[i]) ?? []), i]);
  const classes = [...byClass.keys()].sort((a, b) => a - b);
  if (classes.length < 2 || classes.some((c) => byClass.get(c)!.length < 2)) throw new Error('pairs need at least two classes with two images each');
  const random = new Random(seed);
  const pick = (c: number) => byClass.get(c)![random.int(byClass.get(c)!.length)];
  const indices: number[] = [];
  const same: boolean[] = [];
  const half = pairs / 20;
  for (let set = 0; set < 10; set++) {
    for (let i = 0; i < half; i++) {
      const c = classes[random.int(classes.length)];
      const first = pick(c);
      let second = pick(c);
      while (second === first) second = pick(c);
      indices.push(first, second);
      same.push(true);
    }
    for (let i = 0; i < half; i++) {
      const a = classes[random.int(classes.length)];
      let b = classes[random.int(classes.length)];
      while (b === a) b = classes[random.int(classes.length)];
      indices.push(pick(a), pick(b));
      same.push(false);
    }
  }
  return { indices, same };
}

/** The first `count` images of `dataset`. */
function firstImages(dataset: InMemoryDataset, count: number): InMemoryDataset {
  const size = dataset.height * dataset.width * dataset.channels;
  const n = Math.min(count, dataset.length);
  return new InMemoryDataset({ images: dataset.images.subarray(0, n * size), labels: dataset.labels.subarray(0, n), height: dataset.height, width: dataset.width, channels: dataset.channels, classes: dataset.classes });
}

/** L2-normalised embeddings (with the mirrored image's added) of every image of `dataset`, in batches. */
function embedDataset(embedder: Embedder, dataset: InMemoryDataset, batch = 500): { embeddings: Float32Array; dim: number } {
  const size = dataset.height * dataset.width * dataset.channels;
  const parts: Float32Array[] = [];
  let dim = 0;
  for (let start = 0; start < dataset.length; start += batch) {
    const count = Math.min(batch, dataset.length - start);
    const out = tidy(() => {
      const bytes = fromBytes(dataset.images.slice(start * size, (start + count) * size), 'uint8', [count, dataset.channels, dataset.height, dataset.width]);
      return embedPixels(embedder, bytes.float(), { flip: true });
    });
    dim = out.size(1);
    parts.push(out.toTypedArray() as Float32Array);
    out.dispose();
  }
  const embeddings = new Float32Array(dataset.length * dim);
  parts.forEach((part, i) => embeddings.set(part, i * batch * dim));
  return { embeddings, dim };
}

export async function runOpenSetDemo(options: OpenSetOptions): Promise<{ results: OpenSetResult[]; rocPath: string; resultsPath: string }> {
  const losses = options.losses ?? ['arcface', 'softmax'];
  const model = options.model ?? 'resnet20';
  const seed = options.seed ?? 0;
  const pairCount = options.pairs ?? 6000;
  // Seen classes are relabelled 0..4; the same first images per class whichever loss.
  const allUnseen = keepClasses(loadFashionMnist({ split: 'test', dataDir: options.dataDir }), UNSEEN_CLASSES);
  const unseenTest = options.unseenImages === undefined ? allUnseen : firstImages(allUnseen, options.unseenImages);
  const { indices, same } = drawPairs(unseenTest.labels, pairCount, seed);

  const results: OpenSetResult[] = [];
  const curves: RocCurve[] = [];
  for (const loss of losses) {
    // 'resnets train''s recipe (SGD, Nesterov momentum, lr 0.1, cosine after a warm-up), without augmentation.
    const config: RunConfigInput = {
      model,
      data: { data: 'fashion-mnist', dataDir: options.dataDir, classes: SEEN_CLASSES, limitTrain: (options.perClass ?? 600) * SEEN_CLASSES.length, limitTest: options.seenTestImages ?? 1000 },
      epochs: options.epochs ?? 5,
      batchSize: options.batchSize ?? 128,
      augment: false,
      seed,
      loss,
      embeddingSize: options.embeddingSize ?? 128,
    };
    const runDir = join(options.out, loss);
    options.session?.log?.(`training ${model} with ${loss} on the seen classes (${SEEN_CLASSES.map((c) => fashionMnistClasses[c]).join(', ')})`);
    const session = await runSession(config, { out: runDir, prefetch: options.session?.prefetch ?? 2, ...options.session });
    try {
      if (session.result.status !== 'completed') throw new Error('stopped before the end of training; nothing was evaluated');
      const info = session.run.weightsInfo;
      const embedder = moduleEmbedder(session.model, model, { inputSize: info.inputShape, normalize: { mean: info.mean, std: info.std } });
      // Each unseen test image is embedded once (with its mirror), then the pairs are gathered.
      const { embeddings, dim } = embedDataset(embedder, unseenTest);
      const paired = new Float32Array(indices.length * dim);
      indices.forEach((index, i) => paired.set(embeddings.subarray(index * dim, (index + 1) * dim), i * dim));
      const { result, distances } = verifyEmbeddingPairs(paired, dim, same);
      curves.push({ name: loss, ...exactRoc(distances, same), marks: result.tarAtFar.map(({ farTarget, tar }) => ({ far: farTarget, tar })) });
      const last = session.result.records.at(-1);
      results.push({ loss, run: session.run.path, closedSetAccuracy: last?.testAccuracy, verification: result });
    } finally {
      session.model.dispose();
      session.head?.dispose();
    }
  }
  const rocPath = join(options.out, 'roc.svg');
  const subtitle = `${model}, trained on 5 classes, verified on ${pairCount} pairs of the 5 unseen ones`;
  writeFileAtomic(rocPath, new TextEncoder().encode(renderRoc(curves, 'Open-set verification on Fashion-MNIST', subtitle)));
  const resultsPath = join(options.out, 'results.json');
  writeFileAtomic(resultsPath, new TextEncoder().encode(`${JSON.stringify({ model, seen: SEEN_CLASSES, unseen: UNSEEN_CLASSES, pairs: pairCount, results }, null, 2)}\n`));
  return { results, rocPath, resultsPath };
}
