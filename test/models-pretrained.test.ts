// Pretrained weights by name: the table is torchvision's (regenerated from Debian's
// python3-torchvision and compared), downloads come from a loopback server this test
// starts, serving files it makes: cached, resumed, hash-checked, and a wrong or corrupt
// file is deleted and reported. Nothing here leaves the machine.
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import sharp from 'sharp';
import * as io from '../src/io/index.js';
import {
  cachedWeightsPath,
  createModel,
  fetchPretrained,
  getPretrained,
  imagenetClassNames,
  listPretrained,
  registerPretrained,
  verifyCachedSync,
  type PretrainedWeights,
} from '../src/models/index.js';
import { randn } from '../src/torch/creation.js';
import { dispose } from '../src/torch/scope.js';
import { loadPretrainedFile } from '../src/train/pretrained.js';
import { noGrad } from '../src/torch/runtime.js';
import { resnets } from './helpers/cli.js';
import { LoopbackFileServer } from './helpers/file-server.js';
import { runPython, tempDir } from './helpers/python.js';

const temp = tempDir('resnets-weights-');
const home = join(temp.path, 'home');
const previousHome = process.env.RESNETS_HOME;
process.env.RESNETS_HOME = home;
after(() => {
  process.env.RESNETS_HOME = previousHome;
  temp.cleanup();
});

describe('the pretrained table', () => {
  it("is what scripts/torchvision_weights.py writes from Debian's torchvision", () => {
    const out = join(temp.path, 'generated');
    mkdirSync(out, { recursive: true });
    runPython('torchvision_weights.py', [out]);
    for (const file of ['torchvision-weights.json', 'imagenet-classes.json']) {
      assert.deepEqual(JSON.parse(readFileSync(join(out, file), 'utf8')), JSON.parse(readFileSync(join('assets', file), 'utf8')), `assets/${file} is up to date`);
    }
  });

  it("knows torchvision's files, their SHA-256 prefixes, accuracy and preprocessing", () => {
    const v2 = getPretrained('resnet50', 'IMAGENET1K_V2');
    assert.equal(v2.file, `resnet50-${v2.sha256Prefix}.pth`);
    assert.ok(v2.url.endsWith(`/${v2.file}`));
    assert.equal(v2.transforms.resizeSize, 232);
    assert.equal(v2.transforms.cropSize, 224);
    assert.equal(getPretrained('resnet50', 'DEFAULT').tag, 'IMAGENET1K_V2');
    assert.equal(v2.classes, imagenetClassNames());
    assert.equal(imagenetClassNames().length, 1000);
    for (const weights of listPretrained()) {
      assert.match(weights.file, new RegExp(`^${weights.model}-${weights.sha256Prefix}\\.pth$`));
      assert.ok(weights.metrics['acc@1'] > 50 && weights.metrics['acc@1'] < 100);
    }
    assert.throws(() => getPretrained('resnet50', 'IMAGENET1K_V9'), /resnet50 has no weights named 'IMAGENET1K_V9'; known: IMAGENET1K_V1, IMAGENET1K_V2, DEFAULT/);
    assert.throws(() => getPretrained('resnet20', 'DEFAULT'), /no pretrained weights are known for resnet20/);
  });
});

describe('downloads from a loopback server', () => {
  const served = join(temp.path, 'served');
  let server: LoopbackFileServer;
  let base = '';
  let checkpoint: Buffer;
  let weights: PretrainedWeights;
  const classes = Array.from({ length: 10 }, (_, i) => `class ${i}`);
  const source = createModel('resnet20').eval();

  before(async () => {
    mkdirSync(served, { recursive: true });
    server = await LoopbackFileServer.start(served);
    base = server.url;
    const file = join(temp.path, 'resnet20.pth');
    io.save(source.stateDict(), file);
    checkpoint = readFileSync(file);
    const sha256 = createHash('sha256').update(checkpoint).digest('hex');
    const name = `resnet20-${sha256.slice(0, 8)}.pth`;
    serve(name, checkpoint);
    weights = {
      model: 'resnet20',
      tag: 'TEST_V1',
      default: false,
      url: `${base}/${name}`,
      file: name,
      sha256Prefix: sha256.slice(0, 8),
      numClasses: 10,
      classes,
      transforms: { cropSize: 32, resizeSize: 32, interpolation: 'bilinear', mean: [0.5, 0.5, 0.5], std: [0.25, 0.25, 0.25] },
      metrics: {},
    };
    registerPretrained(weights);
  });
  after(async () => {
    source.dispose();
    await server.stop();
  });
  const serve = (name: string, bytes: Buffer) => writeFileSync(join(served, name), bytes);

  it('createModel({ weights }) downloads once into $RESNETS_HOME, then loads from the cache', async () => {
    const model = createModel('resnet20', { weights: 'TEST_V1' }).eval();
    assert.equal(cachedWeightsPath(weights), join(home, 'weights', weights.file));
    assert.ok(existsSync(cachedWeightsPath(weights)));
    const x = randn([2, 3, 32, 32]);
    const [ours, theirs] = noGrad(() => [model.call(x), source.call(x)]);
    assert.deepEqual(ours.toTypedArray(), theirs.toTypedArray(), 'the weights are the served ones');
    model.dispose();
    const requests = (await server.requests()).length;
    createModel('resnet20', { weights: 'TEST_V1' }).dispose();
    assert.equal((await server.requests()).length, requests, 'the second model comes from the cache');
    assert.throws(() => createModel('resnet20', { weights: 'TEST_V1', numClasses: 5 }), /has 10 classes, not numClasses 5/);
  });

  it('fine-tuning starts from a weights name: train.loadPretrainedFile re-initialises a classifier of another class count', () => {
    const model = createModel('resnet20', { numClasses: 3 });
    const lines = loadPretrainedFile(model, 'TEST_V1');
    assert.match(lines.join('\n'), /resnet20 TEST_V1 .*re-initialised: the checkpoint's has 10 classes, this model 3/);
    const sourceState = source.stateDict();
    const loaded = model.stateDict();
    assert.deepEqual(loaded['conv1.weight'].toTypedArray(), sourceState['conv1.weight'].toTypedArray(), 'the backbone is the served checkpoint');
    dispose(sourceState);
    dispose(loaded);
    model.dispose();
  });

  it('resumes an interrupted download with a Range request', async () => {
    const resumable = { ...weights, tag: 'TEST_RESUME', file: `resume-${weights.file}` };
    serve(resumable.file, checkpoint);
    registerPretrained({ ...resumable, url: `${base}/${resumable.file}` });
    await server.cutNextAfter(100_000);
    const registered = getPretrained('resnet20', 'TEST_RESUME');
    await assert.rejects(fetchPretrained(registered), /cannot download|closed|aborted/);
    const partial = `${cachedWeightsPath(registered)}.part`;
    assert.ok(existsSync(partial), 'the partial file stays for the next try');
    const kept = readFileSync(partial).length;
    assert.ok(kept > 0 && kept < checkpoint.length, `kept ${kept} of ${checkpoint.length} bytes`);
    const size = readFileSync(partial).length;
    const path = await fetchPretrained(registered);
    assert.equal((await server.requests()).at(-1)!.range, `bytes=${size}-`);
    assert.deepEqual(readFileSync(path), checkpoint);
    assert.equal(existsSync(partial), false);
  });

  it('deletes and reports a download whose hash does not match, and a corrupted cached file', async () => {
    const wrong = { ...weights, tag: 'TEST_WRONG', file: 'wrong-resnet20.pth', url: `${base}/wrong-resnet20.pth` };
    serve(wrong.file, Buffer.concat([checkpoint, Buffer.from('tampered')]));
    registerPretrained(wrong);
    assert.throws(() => createModel('resnet20', { weights: 'TEST_WRONG' }), /does not match the expected [0-9a-f]{8}; the file was deleted/);
    assert.equal(existsSync(cachedWeightsPath(wrong)), false);
    assert.equal(existsSync(`${cachedWeightsPath(wrong)}.part`), false);

    const cached = cachedWeightsPath(weights);
    writeFileSync(cached, Buffer.concat([checkpoint.subarray(0, 1000), Buffer.alloc(10)]));
    assert.throws(() => verifyCachedSync(weights), /does not match resnet20 TEST_V1's [0-9a-f]{8}; the file was deleted/);
    assert.equal(existsSync(cached), false);
  });

  it('says when the machine is offline and what to do', async () => {
    const closed = { ...weights, tag: 'TEST_OFFLINE', file: 'offline.pth', url: 'http://127.0.0.1:9/offline.pth' };
    registerPretrained(closed);
    await assert.rejects(fetchPretrained(closed), /ECONNREFUSED.*offline\?.*copy offline\.pth into .*weights by hand, or set RESNETS_WEIGHTS_MIRROR/);
  });

  it('resnets weights download refuses a file with the wrong hash from a mirror and keeps nothing', async () => {
    const official = getPretrained('resnet18', 'IMAGENET1K_V1');
    serve(official.file, checkpoint); // not torchvision's file: its hash cannot match
    const cliHome = join(temp.path, 'cli-home');
    const env = { RESNETS_HOME: cliHome, RESNETS_WEIGHTS_MIRROR: base };
    const result = await withEnv(env, () => resnets('weights', 'download', 'resnet18', 'IMAGENET1K_V1'));
    assert.equal(result.code, 1);
    assert.match(result.stderr, /resnet18-f37072fd\.pth: SHA-256 [0-9a-f]{64} does not match the expected f37072fd; the file was deleted/);
    assert.deepEqual(existsSync(join(cliHome, 'weights')) ? readdirSync(join(cliHome, 'weights')) : [], []);
  });

  it('resnets predict with a weights name reports an offline mirror on one line', async () => {
    const image = join(temp.path, 'grey.png');
    await sharp({ create: { width: 40, height: 40, channels: 3, background: '#888' } }).png().toFile(image);
    const result = await withEnv({ RESNETS_HOME: join(temp.path, 'offline-home'), RESNETS_WEIGHTS_MIRROR: 'http://127.0.0.1:9' }, () =>
      resnets('predict', 'resnet18', '--weights', 'IMAGENET1K_V1', image),
    );
    assert.equal(result.code, 1);
    assert.match(result.stderr, /^resnets: cannot download http:\/\/127\.0\.0\.1:9\/resnet18-f37072fd\.pth: .*offline/);
  });

  it('resnets weights list shows names, accuracy and the cache', async () => {
    const result = await resnets('weights', 'list', 'resnet50');
    assert.equal(result.code, 0, result.stderr);
    assert.match(result.stdout, /resnet50\s+IMAGENET1K_V2 \(DEFAULT\)\s+80\.86\s+95\.43\s+232\/224\s+no\s+resnet50-11ad3fa6\.pth/);
    const unknown = await resnets('weights', 'list', 'resnet20');
    assert.equal(unknown.code, 1);
    assert.match(unknown.stderr, /no pretrained weights are known for resnet20/);
  });
});

/** Runs `fn` with extra environment variables set (the CLI runs in a child that inherits them). */
async function withEnv<T>(env: Record<string, string>, fn: () => Promise<T>): Promise<T> {
  const saved = Object.fromEntries(Object.keys(env).map((key) => [key, process.env[key]]));
  Object.assign(process.env, env);
  try {
    return await fn();
  } finally {
    for (const [key, value] of Object.entries(saved)) {
      if (value === undefined) delete process.env[key];
      else process.env[key] = value;
    }
  }
}
