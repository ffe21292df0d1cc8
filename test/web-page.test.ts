// The web page end to end: the assets script exports a model and writes the diagrams,
// Vite builds the page, a plain static server (no headers beyond content types) serves
// the built files, and Debian's Chromium, driven by playwright-core, classifies an image:
// the top class shown equals `resnets predict`'s for the same weights and image.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { promisify } from 'node:util';
import { chromium, type BrowserContext, type Page } from 'playwright-core';
import sharp from 'sharp';
import * as io from '../src/io/index.js';
import { createModel, getModelInfo } from '../src/models/index.js';
import { manualSeed } from '../src/torch/runtime.js';
import { resnets } from './helpers/cli.js';
import { LoopbackFileServer } from './helpers/file-server.js';
import { tempDir } from './helpers/python.js';

const run = promisify(execFile);
const CHROMIUM = '/usr/bin/chromium';
const temp = tempDir('resnets-web-');

describe('the web page in headless Chromium', { skip: !existsSync(CHROMIUM) && `${CHROMIUM} is missing (scripts/setup.sh installs Debian's chromium)` }, () => {
  const weights = join(temp.path, 'resnet20.safetensors');
  const image = join(temp.path, 'pattern.png');
  let server: LoopbackFileServer;
  let context: BrowserContext;
  let page: Page;

  before(async () => {
    manualSeed(7);
    const model = createModel('resnet20');
    io.save(model.stateDict(), weights);
    model.dispose();
    // An image already at the size the preprocessing resizes to (crop / cropPct): neither
    // side resamples, so both see the same pixels.
    const info = getModelInfo('resnet20');
    const side = Math.floor(info.defaultInputSize[1] / info.cropPct);
    const pixels = Buffer.alloc(side * side * 3);
    for (let i = 0; i < pixels.length; i++) pixels[i] = (i * 37 + ((i / (3 * side)) | 0) * 11) % 256;
    await sharp(pixels, { raw: { width: side, height: side, channels: 3 } }).png().toFile(image);

    const publicDir = join(temp.path, 'public');
    const dist = join(temp.path, 'dist');
    mkdirSync(publicDir, { recursive: true });
    const node = [process.execPath, '--import', 'tsx'];
    await run(node[0], [...node.slice(1), 'scripts/web-assets.ts', '--out', publicDir, '--models', 'resnet20*', '--export', `resnet20=${weights}`], { env: { ...process.env, RESNETS_NUM_THREADS: '1' } });
    await run(process.execPath, ['node_modules/vite/bin/vite.js', 'build', '--config', 'web/vite.config.ts', '--outDir', dist, '--logLevel', 'warn'], {
      env: { ...process.env, RESNETS_WEB_PUBLIC: publicDir },
    });
    server = await LoopbackFileServer.start(dist);
    context = await chromium.launchPersistentContext(join(temp.path, 'profile'), {
      executablePath: CHROMIUM,
      headless: true,
      args: ['--headless', '--no-sandbox', '--disable-gpu', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
    });
    page = await context.newPage();
    await page.goto(`${server.url}/index.html`);
    await page.waitForSelector('#status[data-state="ready"]', { timeout: 60_000 });
  });

  after(async () => {
    await context?.close();
    await server?.stop();
    temp.cleanup();
  });

  it('shows the top class resnets predict gives for the same model and image, with five bars', async () => {
    const predicted = await resnets('predict', 'resnet20', '--weights', weights, image, '--json', '--top', '5');
    assert.equal(predicted.code, 0, predicted.stderr);
    const [{ predictions }] = JSON.parse(predicted.stdout) as { predictions: { index: number; probability: number }[] }[];
    assert.ok(predictions[0].probability - predictions[1].probability > 1e-3, 'the image has a clear top class (no near tie)');

    await page.setInputFiles('#image', image);
    await page.waitForSelector('#status[data-state="done"]', { timeout: 60_000 });
    const shown = await page.$$eval('#top5 li', (items) =>
      items.map((item) => ({ index: Number(item.getAttribute('data-index')), value: item.querySelector('.value')!.textContent! })),
    );
    assert.equal(shown.length, 5);
    assert.equal(shown[0].index, predictions[0].index, 'the same top class');
    assert.deepEqual(
      shown.map((s) => s.index),
      predictions.map((p) => p.index),
    );
    assert.equal(shown[0].value, `${(predictions[0].probability * 100).toFixed(1)}%`);
  });

  it("shows any registered model's diagram and layer summary", async () => {
    await page.click('#tab-models');
    const names = await page.$$eval('#diagram-model option', (options) => options.map((o) => (o as HTMLOptionElement).value));
    assert.deepEqual(names, ['resnet20'], 'the models the assets script was asked for');
    await page.selectOption('#diagram-model', 'resnet20');
    await page.waitForFunction(() => {
      const img = document.getElementById('diagram') as HTMLImageElement;
      return img.src.endsWith('resnet20.svg') && img.complete && img.naturalWidth > 0;
    });
    const rows = await page.$$eval('#summary tbody tr', (trs) => trs.map((tr) => tr.textContent));
    assert.ok(rows.length > 20, `${rows.length} summary rows`);
    assert.ok(rows.some((row) => row!.includes('layer3.2.conv2')));
    const [described] = JSON.parse(readFileSync(join(temp.path, 'public', 'generated', 'models.json'), 'utf8')) as { params: number }[];
    assert.ok((await page.textContent('#model-facts'))!.includes(`${described.params.toLocaleString('en-US')} parameters`));
  });
});
