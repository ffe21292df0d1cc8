// The open-set verification demonstration, small: a tiny run of both losses on a few
// Fashion-MNIST images of five classes, verified on pairs of the five others.
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { drawPairs, runOpenSetDemo, SEEN_CLASSES, UNSEEN_CLASSES } from '../src/tools/open-set.js';
import { setNumThreads } from '../src/torch/runtime.js';
import { tempDir } from './helpers/python.js';

const temp = tempDir('resnets-open-set-');
after(() => temp.cleanup());

describe('open-set verification on Fashion-MNIST', () => {
  it("draws pairs as LFW's pairs.txt lays them out: 10 sets of same then different pairs", () => {
    const labels = Array.from({ length: 60 }, (_, i) => 5 + (i % 5));
    const { indices, same } = drawPairs(labels, 200, 3);
    assert.equal(same.length, 200);
    assert.equal(indices.length, 400);
    for (let set = 0; set < 10; set++) {
      assert.deepEqual(same.slice(set * 20, set * 20 + 20), [...Array(10).fill(true), ...Array(10).fill(false)]);
    }
    same.forEach((isSame, p) => {
      const [a, b] = [indices[2 * p], indices[2 * p + 1]];
      assert.notEqual(a, b);
      assert.equal(labels[a] === labels[b], isSame, `pair ${p}`);
    });
    assert.deepEqual(drawPairs(labels, 200, 3), { indices, same }, 'the same seed draws the same pairs');
    assert.throws(() => drawPairs(labels, 30, 0), /positive multiple of 20/);
  });

  it('trains the same network with ArcFace and softmax on seen classes and verifies unseen ones', async () => {
    setNumThreads(1);
    const out = join(temp.path, 'demo');
    const { results, rocPath, resultsPath } = await runOpenSetDemo({
      out,
      perClass: 8,
      epochs: 1,
      batchSize: 20,
      embeddingSize: 8,
      pairs: 100,
      unseenImages: 150,
      seenTestImages: 20,
      seed: 1,
    });
    assert.deepEqual(results.map((r) => r.loss), ['arcface', 'softmax']);
    for (const { verification, run } of results) {
      assert.equal(verification.pairs, 100);
      assert.equal(verification.samePairs, 50);
      assert.equal(verification.foldAccuracies.length, 10);
      assert.ok(verification.accuracy >= 0 && verification.accuracy <= 1);
      assert.ok(existsSync(join(run, 'head.safetensors')));
    }
    const saved = JSON.parse(readFileSync(resultsPath, 'utf8')) as { seen: number[]; unseen: number[]; results: unknown[] };
    assert.deepEqual(saved.seen, SEEN_CLASSES);
    assert.deepEqual(saved.unseen, UNSEEN_CLASSES);
    const svg = readFileSync(rocPath, 'utf8');
    assert.equal(svg.match(/<polyline /g)?.length, 2);
    assert.match(svg, />arcface</);
    assert.match(svg, />softmax</);
  });
});
