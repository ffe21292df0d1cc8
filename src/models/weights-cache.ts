// The local cache of pretrained checkpoints: $RESNETS_HOME/weights (default under the
// user's cache folder), filled by downloads with a progress bar and resumption, each
// file's SHA-256 checked before it is used.
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, readFileSync, rmSync } from 'node:fs';
import { homedir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import cliProgress from 'cli-progress';
import { download, verifySha256, type DownloadProgress } from '../io/download.js';
import * as io from '../io/index.js';
import type { StateDict } from '../io/types.js';
import { Tensor } from '../torch/tensor.js';
import { downloadUrl, getPretrained, type PretrainedWeights } from './pretrained.js';

/** $RESNETS_HOME, else the platform's cache folder ($XDG_CACHE_HOME, ~/.cache, ~/Library/Caches, %LOCALAPPDATA%) + /resnets. */
export function resnetsHome(): string {
  if (process.env.RESNETS_HOME) return process.env.RESNETS_HOME;
  if (process.platform === 'win32' && process.env.LOCALAPPDATA) return join(process.env.LOCALAPPDATA, 'resnets');
  if (process.platform === 'darwin') return join(homedir(), 'Library', 'Caches', 'resnets');
  return join(process.env.XDG_CACHE_HOME || join(homedir(), '.cache'), 'resnets');
}

export function cachedWeightsPath(weights: PretrainedWeights): string {
  return join(resnetsHome(), 'weights', weights.file);
}

/** True when the checkpoint is in the cache with the right hash; a file with the wrong hash is deleted. */
export function verifyCachedSync(weights: PretrainedWeights): boolean {
  const path = cachedWeightsPath(weights);
  if (!existsSync(path)) return false;
  const actual = createHash('sha256').update(readFileSync(path)).digest('hex');
  if (actual.startsWith(weights.sha256Prefix.toLowerCase())) return true;
  rmSync(path, { force: true });
  throw new Error(`${path}: SHA-256 ${actual} does not match ${weights.model} ${weights.tag}'s ${weights.sha256Prefix}; the file was deleted, download it again`);
}

/** A progress bar on an interactive stderr, nothing elsewhere. */
export function downloadProgressBar(label: string): { update: (progress: DownloadProgress) => void; stop: () => void } {
  if (!process.stderr.isTTY) return { update: () => {}, stop: () => {} };
  let bar: cliProgress.SingleBar | undefined;
  const mb = (bytes: number) => (bytes / 1e6).toFixed(1);
  return {
    update({ received, total }) {
      if (!bar) {
        bar = new cliProgress.SingleBar(
          { format: `${label} {bar} {percentage}% | {got}/{size} MB | {eta_formatted} left`, barsize: 24, hideCursor: true, clearOnComplete: true, stream: process.stderr, fps: 5 },
          cliProgress.Presets.shades_classic,
        );
        bar.start(total ?? 0, received, { got: mb(received), size: total ? mb(total) : '?' });
      }
      bar.update(received, { got: mb(received) });
    },
    stop: () => bar?.stop(),
  };
}

/**
 * The cached checkpoint's path, downloading it first when it is missing (resuming an
 * interrupted download). The hash is checked before the path is returned.
 */
export async function fetchPretrained(weights: PretrainedWeights, options: { onProgress?: (progress: DownloadProgress) => void } = {}): Promise<string> {
  const path = cachedWeightsPath(weights);
  if (existsSync(path)) {
    await verifySha256(path, weights.sha256Prefix, `${weights.model} ${weights.tag} (${path})`);
    return path;
  }
  try {
    await download(downloadUrl(weights), path, { sha256: weights.sha256Prefix, onProgress: options.onProgress });
  } catch (error) {
    throw withOfflineAdvice(error, weights);
  }
  return path;
}

/** A network failure, with what to do without a connection. */
function withOfflineAdvice(error: unknown, weights: PretrainedWeights): Error {
  const reason = error instanceof Error ? error.message : String(error);
  if (!reason.includes('offline')) return error instanceof Error ? error : new Error(reason);
  const folder = dirname(cachedWeightsPath(weights));
  return new Error(`${reason}; without a connection, copy ${weights.file} into ${folder} by hand, or set RESNETS_WEIGHTS_MIRROR to an address that serves it`);
}

const fromSources = import.meta.url.endsWith('.ts');
const fetchScript = new URL(`./fetch-weights-main${fromSources ? '.ts' : '.js'}`, import.meta.url);

/**
 * fetchPretrained for synchronous callers (createModel): a cached, verified file is used
 * at once; otherwise a child process downloads it, with its progress bar on our stderr.
 */
export function fetchPretrainedSync(weights: PretrainedWeights): string {
  if (verifyCachedSync(weights)) return cachedWeightsPath(weights);
  const loader = fromSources ? ['--import', 'tsx'] : [];
  try {
    // The bar goes to our stderr; a failure comes back on the child's stdout.
    const args = [downloadUrl(weights), cachedWeightsPath(weights), weights.sha256Prefix, `${weights.model} ${weights.tag}`];
    execFileSync(process.execPath, [...loader, fileURLToPath(fetchScript), ...args], { stdio: ['ignore', 'pipe', 'inherit'], env: process.env });
  } catch (error) {
    const reason = String((error as { stdout?: Buffer }).stdout ?? '').trim();
    throw withOfflineAdvice(new Error(reason || `downloading ${weights.model} ${weights.tag} failed`), weights);
  }
  return cachedWeightsPath(weights);
}

/** The state dict of `model`'s checkpoint `tag`, downloaded into the cache if needed. */
export function loadPretrainedStateDict(model: string, tag: string): { weights: PretrainedWeights; dict: StateDict } {
  const weights = getPretrained(model, tag);
  const loaded = io.load(fetchPretrainedSync(weights)) as unknown;
  if (loaded instanceof Tensor) throw new Error(`${weights.file} holds a single tensor, not a state dict`);
  return { weights, dict: loaded as StateDict };
}
