// Child process of fetchPretrainedSync: `fetch-weights-main URL DEST SHA256 LABEL`
// downloads one checkpoint into the cache with a progress bar on stderr; a failure is
// printed on stdout for the parent to raise.
import { download } from '../io/download.js';
import { downloadProgressBar } from './weights-cache.js';

const [url, dest, sha256, label] = process.argv.slice(2);
const bar = downloadProgressBar(label);
try {
  await download(url, dest, { sha256, onProgress: bar.update });
  bar.stop();
} catch (error) {
  bar.stop();
  process.stdout.write(error instanceof Error ? error.message : String(error));
  process.exitCode = 1;
}
