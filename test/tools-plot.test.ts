// Diagrams: blocks and stages boxed and collapsed by depth, shapes on the edges, one
// dashed shortcut per residual block (from the projection when there is one), SVG from
// the WebAssembly Graphviz, PNG through sharp, and the plot command's errors.
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import sharp from 'sharp';
import { createModel } from '../src/models/index.js';
import { modelDot, plot } from '../src/tools/plot/plot.js';
import { resnets } from './helpers/cli.js';
import { tempDir } from './helpers/python.js';

const temp = tempDir('resnets-plot-');
after(() => temp.cleanup());

const count = (text: string, pattern: RegExp) => (text.match(pattern) ?? []).length;
const dashedEdges = (dot: string) => dot.split('\n').filter((line) => line.includes('->') && line.includes('style=dashed'));

describe('plot', () => {
  const resnet20 = createModel('resnet20', { init: false });
  const input = [1, 3, 32, 32];
  after(() => resnet20.dispose());

  it('draws every op at depth op, each block boxed inside its stage, shapes on the edges', () => {
    const dot = modelDot(resnet20, { input, depth: 'op' });
    assert.equal(count(dot, /subgraph "cluster_block_layer\d\.\d"/g), 9, 'nine blocks');
    assert.equal(count(dot, /subgraph "cluster_stage_layer\d"/g), 3, 'three stages');
    assert.equal(count(dot, /<b>Conv 3×3( \/2)?<\/b>/g), 19);
    assert.equal(dashedEdges(dot).length, 9, 'one shortcut per block');
    assert.match(dot, /label=" 16×32×32"/);
    assert.match(dot, /<b>Pad<\/b>/, "option A's zero-padding shortcut is drawn");
    assert.match(dot, /in place/);
  });

  it('collapses blocks at depth block and stages at depth stage', () => {
    const blocks = modelDot(resnet20, { input, depth: 'block' });
    assert.equal(count(blocks, /^\s+"block:layer\d\.\d" \[label=/gm), 9);
    assert.equal(count(blocks, /cluster_block/g), 0);
    assert.equal(count(blocks, /cluster_stage_layer\d/g), 3);
    assert.match(blocks, /16→32 ch, 32→16 px/);
    const stages = modelDot(resnet20, { input, depth: 'stage' });
    assert.equal(count(stages, /^\s+"stage:layer\d" \[label=/gm), 3);
    assert.match(stages, /3 × BasicBlock/);
    assert.equal(dashedEdges(stages).length, 0, 'shortcuts are inside the collapsed stages');
  });

  it("draws a projection shortcut from the downsample branch", () => {
    const model = createModel('resnet50', { init: false });
    const dot = modelDot(model, { input: [1, 3, 32, 32] });
    model.dispose();
    const shortcuts = dashedEdges(dot);
    assert.equal(shortcuts.length, 16);
    // The first block's shortcut leaves the projection's BatchNorm (an op in layer1.0.downsample).
    const downsampleNode = dot.split('\n').find((line) => line.includes('layer1.0.downsample.1<'))!.trim().split(' ')[0];
    assert.ok(shortcuts.some((edge) => edge.trim().startsWith(`${downsampleNode} ->`)), 'the projection feeds the add as a shortcut');
  });

  it('renders SVG with Graphviz and PNG with sharp', async () => {
    const svg = (await plot(resnet20, { input, depth: 'stage', format: 'svg' })) as string;
    assert.match(svg, /<svg[\s\S]*layer2[\s\S]*<\/svg>/);
    const png = (await plot(resnet20, { input, depth: 'stage', format: 'png' })) as Uint8Array;
    const meta = await sharp(png).metadata();
    assert.equal(meta.format, 'png');
    assert.ok(meta.width! > 100 && meta.height! > 500, `${meta.width}x${meta.height}`);
    await assert.rejects(plot(resnet20, { input, format: 'pdf' as 'svg' }), /format must be one of svg, dot, png/);
    assert.throws(() => modelDot(resnet20, { input, depth: 'layer' as 'op' }), /depth must be one of op, block, stage/);
  });
});

describe('resnets plot', () => {
  it('writes the format the file name asks for', async () => {
    const file = join(temp.path, 'net.png');
    const result = await resnets('plot', 'resnet20', '--depth', 'block', '-o', file);
    assert.equal(result.code, 0, result.stderr);
    assert.match(result.stdout, /wrote .*net\.png \(resnet20, depth block, input 1x3x32x32\)/);
    assert.equal((await sharp(readFileSync(file)).metadata()).format, 'png');
  });

  it('refuses an unknown format and depth', async () => {
    const file = join(temp.path, 'net.pdf');
    const format = await resnets('plot', 'resnet20', '-o', file);
    assert.equal(format.code, 1);
    assert.match(format.stderr, /cannot tell the format of '.*net\.pdf'; name it \.svg, \.dot or \.png/);
    assert.equal(existsSync(file), false);
    const depth = await resnets('plot', 'resnet20', '-o', join(temp.path, 'x.svg'), '--depth', 'layers');
    assert.equal(depth.code, 2);
    assert.match(depth.stderr, /expected one of op, block, stage, got 'layers'/);
  });
});
