// `resnets embed MODEL --weights FILE IMAGE... [--json | --npy OUT] [--flip]`: the
// L2-normalised embedding of each face image.
import type { Command } from 'commander';
import { saveNpy } from '../../io/npy.js';
import { tensor } from '../../torch/creation.js';
import { embedImages, loadEmbedder } from '../embedding-loading.js';
import { modelOptionsHelp, parseModelOptions } from '../options.js';

interface EmbedOptions {
  weights: string;
  modelOptions?: Record<string, unknown>;
  json?: boolean;
  npy?: string;
  flip?: boolean;
  normalize: boolean;
}

export function register(program: Command): void {
  program
    .command('embed')
    .description('Embeddings of face images (aligned crops at the model\'s input size, 112x112 for InsightFace models), L2-normalised')
    .argument('<model>', "an embedding model (fresnet*, iresnet*) or the model of a 'resnets train --loss' run")
    .argument('<images...>', 'image files (JPEG, PNG, WebP, ...)')
    .requiredOption('--weights <file>', "weights: an embedding model's checkpoint (.pth, .safetensors, MXNet .params), or a 'resnets train --loss' run's best/last.safetensors")
    .option('--model-options <json>', modelOptionsHelp, parseModelOptions)
    .option('--json', 'print a JSON array with one { image, embedding } entry per image')
    .option('--npy <file>', 'write the embeddings as one [images, D] float32 .npy file')
    .option('--flip', "add the horizontally mirrored image's embedding before normalising, as InsightFace's evaluation does")
    .option('--no-normalize', 'print the raw embeddings (their norm is a quality signal) instead of L2-normalised ones')
    .action(async (name: string, images: string[], options: EmbedOptions) => {
      if (options.json && options.npy) throw new Error('choose one of --json and --npy');
      const embedder = loadEmbedder(name, options.weights, options.modelOptions);
      let embedded: { values: Float32Array; dim: number };
      try {
        embedded = await embedImages(embedder, images, { flip: options.flip, normalize: options.normalize });
      } finally {
        embedder.dispose();
      }
      const { values, dim } = embedded;
      const rows = images.map((_, i) => values.subarray(i * dim, (i + 1) * dim));
      if (options.npy) {
        const out = tensor(values, { shape: [rows.length, dim] });
        try {
          saveNpy(out, options.npy);
        } finally {
          out.dispose();
        }
        console.log(`wrote ${rows.length} embeddings of ${dim} values to ${options.npy}`);
        return;
      }
      if (options.json) {
        console.log(JSON.stringify(images.map((image, i) => ({ image, embedding: Array.from(rows[i]) }))));
        return;
      }
      images.forEach((image, i) => console.log(`${image}\t${Array.from(rows[i], (v) => v.toPrecision(6)).join(' ')}`));
    });
}
