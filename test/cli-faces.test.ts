// Embedding networks from the command line, as a user runs them: train --loss on a
// folder per identity (class centres saved and resumed), embed, verify and verify-eval
// on LFW's pairs.txt layout and on an InsightFace .bin written by Python's pickle.
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import sharp from 'sharp';
import * as io from '../src/io/index.js';
import { createModelByName } from '../src/models/registry.js';
import { loadSafetensors } from '../src/io/safetensors.js';
import { decodeImage } from '../src/data/image-folder.js';
import { imagesToTensor } from '../src/data/normalize.js';
import { Random } from '../src/data/random.js';
import { centerCrop, compose, resize } from '../src/data/transforms.js';
import { normalize } from '../src/torch/functional.js';
import { noGrad } from '../src/torch/runtime.js';
import { dispose, tidy } from '../src/torch/scope.js';
import { readWeightsInfo } from '../src/train/checkpoint.js';
import { loadTrainedModel } from '../src/train/trained-model.js';
import { resnets, type CliResult } from './helpers/cli.js';
import { runPython, tempDir } from './helpers/python.js';

const temp = tempDir('resnets-faces-cli-');
after(() => temp.cleanup());
const path = (...parts: string[]) => join(temp.path, ...parts);
const identities = ['ann', 'ben', 'cat'];

/** A 20x20 "face" per identity: a bright blob whose place and colour depend on who it is. */
async function writeFace(file: string, who: number, variant: number): Promise<void> {
  const size = 20;
  const pixels = Buffer.alloc(size * size * 3);
  for (let y = 0; y < size; y++) {
    for (let x = 0; x < size; x++) {
      const on = Math.abs(x - 5 - 5 * who) < 4 && Math.abs(y - 10) < 6;
      const value = (on ? 190 : 50) + ((x * 5 + y * 11 + variant * 17) % 40);
      pixels.set([value, (value + 70 * who) % 256, 255 - value], (y * size + x) * 3);
    }
  }
  await sharp(pixels, { raw: { width: size, height: size, channels: 3 } }).png().toFile(file);
}

const faceFile = (who: number, i: number) => path('faces', identities[who], `${identities[who]}_${String(i).padStart(4, '0')}.png`);

before(async () => {
  for (const [who, name] of identities.entries()) {
    mkdirSync(path('faces', name), { recursive: true });
    for (let i = 1; i <= 6; i++) await writeFace(faceFile(who, i), who, i);
  }
});

const tiny = ['--image-size', '16', '--epochs', '1', '--batch-size', '6', '--embedding-size', '8', '--no-progress', '--seed', '2'];

describe('embedding networks on the command line', () => {
  let trained: CliResult;
  const weights = () => path('run', 'last.safetensors');
  before(async () => {
    trained = await resnets('train', 'resnet20', '--data', path('faces'), '--loss', 'arcface', '--out', path('run'), ...tiny);
  });

  it('train --loss arcface: the model outputs embeddings and the class centres are saved with the run', () => {
    assert.equal(trained.code, 0, trained.stderr);
    assert.match(trained.stdout, /loss: ArcFace \(s 64, m 0.5\) over 8-d embeddings, 3 class centres/);
    assert.match(trained.stdout, /16x16 aligned crops/);
    const info = readWeightsInfo(weights())!;
    assert.equal(info.embeddingSize, 8);
    assert.equal(info.loss, 'arcface');
    assert.equal(info.cropPct, 1);
    const head = loadSafetensors(path('run', 'head.safetensors'));
    assert.deepEqual(Object.keys(head), ['weight']);
    assert.deepEqual(head.weight.shape, [3, 8]);
    dispose(head);
  });

  it('--resume continues an embedding run with its class centres', async () => {
    const before = loadSafetensors(path('run', 'head.safetensors'));
    const resumed = await resnets('train', '--resume', path('run'), '--epochs', '2', '--no-progress');
    assert.equal(resumed.code, 0, resumed.stderr);
    assert.match(resumed.stdout, /resuming .* at epoch 2/);
    const afterResume = loadSafetensors(path('run', 'head.safetensors'));
    assert.ok(!before.weight.allclose(afterResume.weight), 'the centres trained on');
    dispose([before, afterResume]);
  });

  it('embed prints what the trained network computes on the image, L2-normalised, with --flip adding the mirror', async () => {
    const image = faceFile(1, 2);
    const plain = await resnets('embed', 'resnet20', '--weights', weights(), image, '--json');
    const flipped = await resnets('embed', 'resnet20', '--weights', weights(), image, '--json', '--flip');
    assert.equal(plain.code, 0, plain.stderr);
    const [{ embedding }] = JSON.parse(plain.stdout) as { image: string; embedding: number[] }[];
    const [{ embedding: withFlip }] = JSON.parse(flipped.stdout) as { embedding: number[] }[];
    // The reference: the 20x20 image resized by its short side to the run's 16, normalised
    // as in training, through the trained model.
    const { model, info } = loadTrainedModel(weights())!;
    const decoded = compose([resize(16), centerCrop(16)])(await decodeImage(image), new Random(0));
    const [one, both] = tidy(() => {
      const input = imagesToTensor([decoded], { normalize: { mean: info.mean, std: info.std } });
      model.eval();
      return noGrad(() => {
        const a = model.call(input);
        const b = model.call(input.flip([3]));
        return [(normalize(a, 1).toArray() as number[][])[0], (normalize(a.add(b), 1).toArray() as number[][])[0]];
      });
    });
    model.dispose();
    assert.equal(embedding.length, 8);
    embedding.forEach((v, i) => assert.ok(Math.abs(v - one[i]) < 1e-5, `value ${i}: ${v} vs ${one[i]}`));
    withFlip.forEach((v, i) => assert.ok(Math.abs(v - both[i]) < 1e-5, `flip value ${i}: ${v} vs ${both[i]}`));
    assert.ok(Math.abs(Math.hypot(...embedding) - 1) < 1e-5);
  });

  it('embed --npy writes one [images, D] array', async () => {
    const out = path('embeddings.npy');
    const result = await resnets('embed', 'resnet20', '--weights', weights(), faceFile(0, 1), faceFile(2, 3), '--npy', out);
    assert.equal(result.code, 0, result.stderr);
    assert.match(result.stdout, /wrote 2 embeddings of 8 values/);
    const array = io.loadNpy(out);
    assert.deepEqual(array.shape, [2, 8]);
    array.dispose();
  });

  it('verify prints the cosine similarity and the decision at the threshold', async () => {
    const same = await resnets('verify', 'resnet20', '--weights', weights(), faceFile(0, 1), faceFile(0, 1), '--json');
    assert.equal(same.code, 0, same.stderr);
    const result = JSON.parse(same.stdout) as { similarity: number; threshold: number; same: boolean };
    assert.ok(Math.abs(result.similarity - 1) < 1e-5);
    assert.equal(result.same, true);
    assert.ok(Math.abs(result.threshold - 0.38) < 1e-12, "InsightFace's 1.24 squared distance");
    const text = await resnets('verify', 'resnet20', '--weights', weights(), faceFile(0, 1), faceFile(1, 1), '--threshold', '1');
    assert.match(text.stdout, /cosine similarity -?\d\.\d{4} \(squared distance \d\.\d{4}\)\ndifferent people at threshold 1\.0000/);
    const bad = await resnets('verify', 'resnet20', '--weights', weights(), faceFile(0, 1), faceFile(1, 1), '--threshold', '1.5');
    assert.equal(bad.code, 2);
    assert.match(bad.stderr, /expected a cosine similarity in \[-1, 1\], got '1.5'/);
  });

  it("verify-eval runs LFW's protocol on a pairs.txt list and on the same pairs as a .bin", async () => {
    // 20 pairs, alternating same and different, so every fold of 2 holds one of each.
    const lines = ['10\t1'];
    const files: string[] = [];
    const flags: string[] = [];
    for (let k = 0; k < 20; k++) {
      const who = k % 3;
      if (k % 2 === 0) {
        lines.push(`${identities[who]}\t${1 + (k % 5)}\t${2 + (k % 5)}`);
        files.push(faceFile(who, 1 + (k % 5)), faceFile(who, 2 + (k % 5)));
        flags.push('1');
      } else {
        const other = (who + 1) % 3;
        lines.push(`${identities[who]}\t${1 + (k % 6)}\t${identities[other]}\t${1 + ((k + 2) % 6)}`);
        files.push(faceFile(who, 1 + (k % 6)), faceFile(other, 1 + ((k + 2) % 6)));
        flags.push('0');
      }
    }
    writeFileSync(path('pairs.txt'), `${lines.join('\n')}\n`);
    runPython('face_bin_fixture.py', [path('faces-eval'), flags.join(''), ...files]);
    // pairs.txt names .jpg files.
    for (const name of identities) {
      for (let i = 1; i <= 6; i++) {
        const file = path('faces', name, `${name}_${String(i).padStart(4, '0')}`);
        await sharp(`${file}.png`).jpeg({ quality: 100 }).toFile(`${file}.jpg`);
      }
    }
    const jpeg = await resnets('verify-eval', 'resnet20', '--weights', weights(), '--pairs', path('pairs.txt'), '--images', path('faces'), '--json');
    assert.equal(jpeg.code, 0, jpeg.stderr);
    const textResult = JSON.parse(jpeg.stdout) as { pairs: number; folds: number; accuracy: number; foldAccuracies: number[]; tarAtFar: { farTarget: number }[]; flip: boolean };
    assert.equal(textResult.pairs, 20);
    assert.equal(textResult.folds, 10);
    assert.equal(textResult.flip, true);
    assert.deepEqual(textResult.tarAtFar.map((t) => t.farTarget), [1e-3, 1e-4]);

    const reports: string[] = [];
    for (const layout of ['py3', 'py2']) {
      const roc = path(`roc-${layout}.svg`);
      const bin = await resnets('verify-eval', 'resnet20', '--weights', weights(), '--pairs', path(`faces-eval-${layout}.bin`), '--roc', roc);
      reports.push(bin.stdout.replace(/py\d/g, ''));
      assert.equal(bin.code, 0, bin.stderr);
      assert.match(bin.stdout, /resnet20 on faces-eval-py\d\.bin: 20 pairs \(10 same, 10 different\), 10 folds\naccuracy \d+\.\d\d% ± \d+\.\d\d%/);
      assert.match(bin.stdout, /TAR @ FAR 1e-3: .*\nTAR @ FAR 1e-4: /);
      assert.match(readFileSync(roc, 'utf8'), /^<svg [\s\S]*<polyline [\s\S]*<\/svg>/);
    }
    assert.equal(reports[0], reports[1], 'both pickle layouts give the same figures');
    const evil = await resnets('verify-eval', 'resnet20', '--weights', weights(), '--pairs', path('faces-eval-evil.bin'));
    assert.equal(evil.code, 1);
    assert.match(evil.stderr, /names (posix|os)\.system/);
  });

  it("embed takes any classifier built without a head: its pooled features", async () => {
    const backbone = createModelByName('resnet20', { numClasses: 0 });
    const file = path('resnet20-features.safetensors');
    io.save(backbone.stateDict(), file);
    backbone.dispose();
    const result = await resnets('embed', 'resnet20', '--weights', file, '--model-options', '{"numClasses": 0}', faceFile(0, 1), '--json');
    assert.equal(result.code, 0, result.stderr);
    const [{ embedding }] = JSON.parse(result.stdout) as { embedding: number[] }[];
    assert.equal(embedding.length, 64); // ResNet-20's last stage has 64 channels
    assert.ok(Math.abs(Math.hypot(...embedding) - 1) < 1e-5);
  });

  it('embed --model-options {"numClasses": 0} takes a full classifier checkpoint, its fc dropped, as the hint says', async () => {
    const full = createModelByName('resnet20');
    const file = path('resnet20-full.safetensors');
    io.save(full.stateDict(), file);
    full.dispose();
    const hint = await resnets('embed', 'resnet20', '--weights', file, faceFile(0, 1));
    assert.match(hint.stderr, /--model-options '\{"numClasses": 0\}' for pooled features/);
    const result = await resnets('embed', 'resnet20', '--weights', file, '--model-options', '{"numClasses": 0}', faceFile(0, 1), '--json');
    assert.equal(result.code, 0, result.stderr);
    assert.equal((JSON.parse(result.stdout) as { embedding: number[] }[])[0].embedding.length, 64);
  });

  it('verify-eval says a missing pairs file does not exist', async () => {
    const result = await resnets('verify-eval', 'resnet20', '--weights', weights(), '--pairs', path('missing.txt'));
    assert.equal(result.code, 1);
    assert.match(result.stderr, /pairs file '.*missing\.txt' does not exist/);
  });

  it('a classifier, embedding options without --loss, or mixing with --loss, are errors that say what to do', async () => {
    const plain = path('plain.safetensors');
    io.save({}, plain);
    const classifier = await resnets('embed', 'resnet18', '--weights', plain, faceFile(0, 1));
    assert.equal(classifier.code, 1);
    assert.match(classifier.stderr, /resnet18 is a classifier, not an embedding model/);
    const evalRun = await resnets('eval', 'resnet20', '--weights', weights(), '--data', path('faces'));
    assert.equal(evalRun.code, 1);
    assert.match(evalRun.stderr, /holds an embedding network \(8-d, trained with --loss arcface\), which has no classes to score; use 'resnets embed'/);
    const noLoss = await resnets('train', 'resnet20', '--data', path('faces'), '--embedding-size', '8', '--out', path('x'));
    assert.match(noLoss.stderr, /--embedding-size applies to embedding training; add --loss/);
    const wrongMargin = await resnets('train', 'resnet20', '--data', path('faces'), '--loss', 'arcface', '--margins', '1,0.3,0.2', '--out', path('x'));
    assert.match(wrongMargin.stderr, /--margins m1,m2,m3 applies to --loss combined; arcface takes --margin m/);
    const mixed = await resnets('train', 'resnet20', '--data', path('faces'), '--loss', 'arcface', '--cutmix', '1', '--out', path('x'));
    assert.equal(mixed.code, 1);
    assert.match(mixed.stderr, /--mixup and --cutmix train a classifier on soft targets; they do not apply with --loss arcface/);
    const badLoss = await resnets('train', 'resnet20', '--data', path('faces'), '--loss', 'sphereface');
    assert.equal(badLoss.code, 2);
    assert.match(badLoss.stderr, /expected one of arcface, cosface, combined, softmax, got 'sphereface'/);
    assert.ok(!existsSync(path('x')));
  });
});
