// `resnets verify MODEL --weights FILE A.jpg B.jpg [--threshold T]`: whether two face
// images show the same person, by the cosine similarity of their embeddings.
import type { Command } from 'commander';
import { InvalidArgumentError } from 'commander';
import { cosine } from '../../tools/face-embedding.js';
import { embedImages, loadEmbedder } from '../embedding-loading.js';
import { modelOptionsHelp, parseModelOptions } from '../options.js';

/** InsightFace's deploy scripts call a pair the same person below squared distance 1.24: cosine 1 - 1.24 / 2. */
export const DEFAULT_THRESHOLD = 1 - 1.24 / 2;

function parseCosine(text: string): number {
  const value = Number(text);
  if (text.trim() === '' || !Number.isFinite(value) || value < -1 || value > 1) throw new InvalidArgumentError(`expected a cosine similarity in [-1, 1], got '${text}'`);
  return value;
}

interface VerifyOptions {
  weights: string;
  modelOptions?: Record<string, unknown>;
  threshold: number;
  flip?: boolean;
  json?: boolean;
}

export function register(program: Command): void {
  program
    .command('verify')
    .description('Compare two face images: the cosine similarity of their embeddings, and same or different person at a threshold')
    .argument('<model>', "an embedding model (fresnet*, iresnet*) or the model of a 'resnets train --loss' run")
    .argument('<first>', 'first face image')
    .argument('<second>', 'second face image')
    .requiredOption('--weights <file>', "weights: an embedding model's checkpoint (.pth, .safetensors, MXNet .params), or a 'resnets train --loss' run's best/last.safetensors")
    .option('--model-options <json>', modelOptionsHelp, parseModelOptions)
    .option('--threshold <cosine>', `same person when the cosine similarity is at least this (the default is InsightFace's deploy threshold 1.24 on the squared distance; 'resnets verify-eval' prints the best one for a pair list)`, parseCosine, DEFAULT_THRESHOLD)
    .option('--flip', "add each image's mirrored embedding, as InsightFace's evaluation does")
    .option('--json', 'print { similarity, threshold, same } as JSON')
    .action(async (name: string, first: string, second: string, options: VerifyOptions) => {
      const embedder = loadEmbedder(name, options.weights, options.modelOptions);
      let similarity: number;
      try {
        const { values, dim } = await embedImages(embedder, [first, second], { flip: options.flip });
        similarity = cosine(values.subarray(0, dim), values.subarray(dim));
      } finally {
        embedder.dispose();
      }
      const same = similarity >= options.threshold;
      if (options.json) {
        console.log(JSON.stringify({ similarity, threshold: options.threshold, same }));
        return;
      }
      console.log(`cosine similarity ${similarity.toFixed(4)} (squared distance ${(2 - 2 * similarity).toFixed(4)})`);
      console.log(`${same ? 'same person' : 'different people'} at threshold ${options.threshold.toFixed(4)}`);
    });
}
