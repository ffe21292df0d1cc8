// `resnets weights list|download|verify`: the pretrained checkpoints the registry knows and the local cache.
import { existsSync, rmSync } from 'node:fs';
import type { Command } from 'commander';
import {
  cachedWeightsPath,
  downloadUrl,
  fetchPretrained,
  getPretrained,
  listModels,
  listPretrained,
  resnetsHome,
  type PretrainedWeights,
} from '../../models/index.js';
import { downloadProgressBar } from '../../models/weights-cache.js';
import { sha256OfFile } from '../../io/download.js';
import { modelInfo } from '../model-loading.js';
import { formatTable } from '../table.js';

/** Checkpoints of registered models (the table also knows models of families not built here). */
function known(model?: string): PretrainedWeights[] {
  if (model !== undefined) modelInfo(model);
  const order = new Map(listModels().map((name, i) => [name, i]));
  return listPretrained(model)
    .filter((weights) => order.has(weights.model))
    .sort((a, b) => order.get(a.model)! - order.get(b.model)!);
}

function listAction(model: string | undefined, options: { json?: boolean }): void {
  const rows = known(model);
  if (rows.length === 0) throw new Error(model ? `no pretrained weights are known for ${model}` : 'no pretrained weights are known');
  if (options.json) {
    const entries = rows.map((weights) => ({ ...weights, classes: weights.classes.length, cached: existsSync(cachedWeightsPath(weights)) }));
    console.log(JSON.stringify(entries, null, 2));
    return;
  }
  console.log(
    formatTable(
      ['Model', 'Weights', 'Acc@1', 'Acc@5', 'Crop', 'Cached', 'File'],
      rows.map((w) => [
        w.model,
        w.default ? `${w.tag} (DEFAULT)` : w.tag,
        w.metrics['acc@1']?.toFixed(2) ?? '-',
        w.metrics['acc@5']?.toFixed(2) ?? '-',
        `${w.transforms.resizeSize}/${w.transforms.cropSize}`,
        existsSync(cachedWeightsPath(w)) ? 'yes' : 'no',
        w.file,
      ]),
      { alignRight: [2, 3] },
    ),
  );
  console.log(`\ncache: ${resnetsHome()}/weights (set RESNETS_HOME to move it)`);
}

async function downloadAction(model: string, tag: string): Promise<void> {
  modelInfo(model);
  const weights = getPretrained(model, tag);
  const already = existsSync(cachedWeightsPath(weights));
  const bar = downloadProgressBar(`${weights.model} ${weights.tag}`);
  try {
    const path = await fetchPretrained(weights, { onProgress: bar.update });
    bar.stop();
    console.log(`${already ? 'verified' : 'downloaded'} ${path} (${weights.model} ${weights.tag}${already ? '' : ` from ${downloadUrl(weights)}`})`);
  } catch (error) {
    bar.stop();
    throw error;
  }
}

async function verifyAction(model: string | undefined, tag: string | undefined): Promise<void> {
  const candidates = tag !== undefined && model !== undefined ? [getPretrained(model, tag)] : known(model);
  const cached = candidates.filter((weights) => existsSync(cachedWeightsPath(weights)));
  if (cached.length === 0) {
    console.log(`no cached checkpoints${model ? ` of ${model}` : ''} in ${resnetsHome()}/weights`);
    return;
  }
  const bad: string[] = [];
  for (const weights of cached) {
    const path = cachedWeightsPath(weights);
    const actual = await sha256OfFile(path);
    if (actual.startsWith(weights.sha256Prefix.toLowerCase())) {
      console.log(`ok       ${weights.model} ${weights.tag}  ${path}`);
    } else {
      rmSync(path, { force: true });
      bad.push(`${weights.model} ${weights.tag}`);
      console.log(`deleted  ${weights.model} ${weights.tag}  ${path}: SHA-256 ${actual.slice(0, 16)}... is not ${weights.sha256Prefix}`);
    }
  }
  if (bad.length > 0) throw new Error(`${bad.length} cached checkpoint(s) had the wrong hash and were deleted: ${bad.join(', ')}`);
}

export function register(program: Command): void {
  const weights = program
    .command('weights')
    .description('Pretrained checkpoints by name: list them, download them into the cache, verify the cache')
    .addHelpText('after', '\nThe cache is $RESNETS_HOME/weights; RESNETS_WEIGHTS_MIRROR=URL fetches the same file names from a local mirror.');
  weights
    .command('list')
    .description('Known checkpoints: model, name, reported ImageNet accuracy, preprocessing, whether cached')
    .argument('[model]', 'only this model')
    .option('--json', 'print a JSON array')
    .action(listAction);
  weights
    .command('download')
    .description('Download a checkpoint into the cache (resumes an interrupted download; checks the SHA-256)')
    .argument('<model>', "model name (see 'resnets weights list')")
    .argument('[name]', 'weights name, e.g. IMAGENET1K_V2', 'DEFAULT')
    .action(downloadAction);
  weights
    .command('verify')
    .description('Check the SHA-256 of cached checkpoints; a file that does not match is deleted')
    .argument('[model]', 'only this model')
    .argument('[name]', 'only these weights')
    .action(verifyAction);
}
