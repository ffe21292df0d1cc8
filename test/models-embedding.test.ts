// The embedding-model base: preprocessing per model, embed() in eval mode without
// autograd, and the mode restored afterwards.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { torch } from '../src/index.js';
import { EmbeddingModel, type EmbeddingConfig, type EmbeddingPreprocessing } from '../src/models/embedding.js';

/** Mean pixel per channel, plus a record of the mode each call saw. */
class ChannelMeans extends EmbeddingModel {
  readonly config: EmbeddingConfig = { family: 'test', name: 'channel-means' };
  readonly modes: boolean[] = [];
  readonly embeddingSize = 3;
  constructor(readonly preprocessing: EmbeddingPreprocessing) {
    super('channel-means');
  }
  protected embedding(input: torch.Tensor): torch.Tensor {
    this.modes.push(this.training);
    return input.mean([2, 3]);
  }
  clone(): ChannelMeans {
    return new ChannelMeans(this.preprocessing);
  }
}

const inputSize: [number, number, number] = [3, 4, 4];

describe('EmbeddingModel', () => {
  it('normalises outside the network as the model says: (x / 255 - 0.5) / 0.5', () => {
    const model = new ChannelMeans({ inputSize, channels: 'RGB', normalize: { mean: [0.5, 0.5, 0.5], std: [0.5, 0.5, 0.5] } });
    torch.tidy(() => {
      const images = torch.full([2, 3, 4, 4], 255, { dtype: 'float32' });
      const embedding = model.embed(images);
      assert.deepEqual(embedding.shape, [2, 3]);
      assert.ok(embedding.allclose(torch.ones([2, 3])));
      assert.equal(embedding.requiresGrad, false);
    });
    assert.deepEqual(model.modes, [false], 'embed runs in eval mode');
    assert.equal(model.training, true, 'and restores the training mode');
  });

  it('passes raw pixels when the network scales inside its graph', () => {
    const model = new ChannelMeans({ inputSize, channels: 'RGB', normalize: null });
    torch.tidy(() => assert.ok(model.embed(torch.full([1, 3, 4, 4], 200, { dtype: 'float32' })).allclose(torch.full([1, 3], 200, { dtype: 'float32' }))));
  });

  it('names the expected input on a wrong shape or dtype', () => {
    const model = new ChannelMeans({ inputSize, channels: 'RGB', normalize: null });
    torch.tidy(() => {
      assert.throws(() => model.embed(torch.zeros([1, 1, 4, 4])), /channel-means expects input \[N, 3, H, W\], got \[1, 1, 4, 4\]/);
      assert.throws(() => model.embed(torch.zeros([1, 3, 4, 4], { dtype: 'uint8' })), /floating-point/);
    });
  });
});
