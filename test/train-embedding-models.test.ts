// Margin training of an embedding family (fresnet, which scales raw pixels inside its
// graph): the loader feeds what embed() feeds, and the run's weights embed through the
// CLI's loader exactly as the model's own embed() does.
import assert from 'node:assert/strict';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import sharp from 'sharp';
import { loadEmbedder, loadPixels } from '../src/cli/embedding-loading.js';
import { EmbeddingModel } from '../src/models/embedding.js';
import { normalize } from '../src/torch/functional.js';
import { setNumThreads } from '../src/torch/runtime.js';
import { tidy } from '../src/torch/scope.js';
import { embedPixels } from '../src/tools/face-embedding.js';
import { readWeightsInfo } from '../src/train/checkpoint.js';
import { runSession } from '../src/train/session.js';
import { tempDir } from './helpers/python.js';

const temp = tempDir('resnets-embedding-models-');
after(() => temp.cleanup());
const image = (who: string, i: number) => join(temp.path, 'faces', who, `${i}.png`);

before(async () => {
  for (const [k, who] of ['a', 'b', 'c'].entries()) {
    mkdirSync(join(temp.path, 'faces', who), { recursive: true });
    for (let i = 0; i < 4; i++) {
      const pixels = Buffer.alloc(16 * 16 * 3);
      for (let p = 0; p < pixels.length; p++) pixels[p] = (p * (k + 3) + i * 29) % 256;
      await sharp(pixels, { raw: { width: 16, height: 16, channels: 3 } }).png().toFile(image(who, i));
    }
  }
});

describe('margin training of an embedding model', () => {
  it('fresnet18 trains on raw pixels, as its embed() takes them, and embeds the same through its run weights', async () => {
    setNumThreads(1);
    const out = join(temp.path, 'run');
    const session = await runSession(
      { model: 'fresnet18', modelOptions: { inputSize: [16, 16] }, data: { data: join(temp.path, 'faces'), imageSize: 16, aligned: true }, epochs: 1, batchSize: 6, loss: 'cosface', embeddingSize: 8 },
      { out, prefetch: 1 },
    );
    try {
      assert.ok(session.model instanceof EmbeddingModel);
      assert.deepEqual(session.head!.weight.shape, [3, 8]);
      const info = readWeightsInfo(join(out, 'last.safetensors'))!;
      assert.deepEqual(info.mean, [0, 0, 0]);
      assert.deepEqual(info.std, [1 / 255, 1 / 255, 1 / 255]);
      assert.equal(info.loss, 'cosface');

      const embedder = loadEmbedder('fresnet18', join(out, 'last.safetensors'));
      const pixels = await loadPixels([image('b', 1), image('c', 2)], embedder.input);
      try {
        tidy(() => {
          const fromRun = embedPixels(embedder, pixels);
          const direct = normalize((session.model as EmbeddingModel).embed(pixels), 1);
          assert.deepEqual(fromRun.shape, [2, 8]);
          assert.ok(fromRun.allclose(direct, 1e-5, 1e-6), 'the loaded run embeds as the trained model');
        });
      } finally {
        pixels.dispose();
        embedder.dispose();
      }
    } finally {
      session.model.dispose();
      session.head?.dispose();
    }
  });
});
