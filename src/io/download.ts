// Downloads a file over HTTP(S) into place: written to `<dest>.part` (resumed with a
// Range request when a partial file is there), its SHA-256 checked, then renamed. A
// file whose hash does not match is deleted and reported, never left where it would
// be used.
import { createHash } from 'node:crypto';
import { createReadStream, createWriteStream, existsSync, mkdirSync, renameSync, rmSync, statSync } from 'node:fs';
import { get as httpGet, type IncomingMessage } from 'node:http';
import { get as httpsGet } from 'node:https';
import { dirname } from 'node:path';

export interface DownloadProgress {
  /** Bytes on disk so far (a resumed download starts at the partial file's size). */
  received: number;
  /** Total size, when the server says it. */
  total?: number;
}

export interface DownloadOptions {
  /** The expected SHA-256 in hex, or its first characters (torchvision's file names carry 8+). */
  sha256?: string;
  onProgress?: (progress: DownloadProgress) => void;
  /** Give up on a connection idle this long (default 60 s). */
  timeoutMs?: number;
}

const MAX_REDIRECTS = 5;

export async function sha256OfFile(file: string): Promise<string> {
  const hash = createHash('sha256');
  for await (const chunk of createReadStream(file)) hash.update(chunk as Buffer);
  return hash.digest('hex');
}

/** Throws (and deletes `file`) unless its SHA-256 starts with `expected`. */
export async function verifySha256(file: string, expected: string, source = file): Promise<void> {
  const actual = await sha256OfFile(file);
  if (!actual.startsWith(expected.toLowerCase())) {
    rmSync(file, { force: true });
    throw new Error(`${source}: SHA-256 ${actual} does not match the expected ${expected}; the file was deleted (a corrupt or tampered download)`);
  }
}

function request(url: string, headers: Record<string, string>, timeoutMs: number): Promise<IncomingMessage> {
  return new Promise((resolve, reject) => {
    const protocol = new URL(url).protocol;
    if (protocol !== 'http:' && protocol !== 'https:') {
      reject(new Error(`cannot download '${url}': only http and https addresses are supported`));
      return;
    }
    const get = protocol === 'https:' ? httpsGet : httpGet;
    const req = get(url, { headers }, resolve);
    req.setTimeout(timeoutMs, () => req.destroy(new Error(`no data from ${url} for ${timeoutMs / 1000} s`)));
    req.on('error', reject);
  });
}

/** A network failure as one line that says the machine may be offline. */
function offlineError(url: string, error: unknown): Error {
  const code = (error as { code?: string }).code;
  const reason = error instanceof Error ? error.message : String(error);
  const codes = ['ENOTFOUND', 'EAI_AGAIN', 'ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'ENETUNREACH', 'EHOSTUNREACH'];
  const hint = code && codes.includes(code) ? ' (is this machine offline?)' : '';
  return new Error(`cannot download ${url}: ${reason}${hint}`);
}

/** Follows redirects; resumes from `offset` when the server honours the Range. */
async function open(url: string, offset: number, timeoutMs: number): Promise<{ response: IncomingMessage; resumed: boolean }> {
  let current = url;
  for (let hop = 0; hop <= MAX_REDIRECTS; hop++) {
    const headers: Record<string, string> = { 'user-agent': 'resnets' };
    if (offset > 0) headers.range = `bytes=${offset}-`;
    let response: IncomingMessage;
    try {
      response = await request(current, headers, timeoutMs);
    } catch (error) {
      throw offlineError(url, error);
    }
    const status = response.statusCode ?? 0;
    if (status >= 300 && status < 400 && response.headers.location) {
      response.resume();
      current = new URL(response.headers.location, current).toString();
      continue;
    }
    if (status === 206 && offset > 0) return { response, resumed: true };
    if (status === 200) return { response, resumed: false };
    if (status === 416 && offset > 0) {
      // The partial file is already complete (or longer than the file): start over.
      response.resume();
      return open(url, 0, timeoutMs);
    }
    response.resume();
    throw new Error(`cannot download ${url}: the server answered ${status} ${response.statusMessage ?? ''}`.trimEnd());
  }
  throw new Error(`cannot download ${url}: more than ${MAX_REDIRECTS} redirects`);
}

/**
 * Downloads `url` to `dest`. An interrupted download leaves `<dest>.part`, and the next
 * call resumes it. With `sha256`, the finished file is checked before it is moved into
 * place; a mismatch deletes it and throws.
 */
export async function download(url: string, dest: string, options: DownloadOptions = {}): Promise<void> {
  mkdirSync(dirname(dest), { recursive: true });
  const partial = `${dest}.part`;
  const offset = existsSync(partial) ? statSync(partial).size : 0;
  const { response, resumed } = await open(url, offset, options.timeoutMs ?? 60_000);
  const start = resumed ? offset : 0;
  const length = Number(response.headers['content-length']);
  const total = Number.isFinite(length) ? start + length : undefined;
  let received = start;
  options.onProgress?.({ received, total });
  // A dropped connection still flushes what arrived, so the next call can resume from it.
  const dropped = await new Promise<Error | undefined>((resolve, reject) => {
    const out = createWriteStream(partial, { flags: resumed ? 'a' : 'w' });
    let failure: Error | undefined;
    const drop = (error: Error) => {
      failure ??= error;
      response.unpipe(out);
      out.end();
    };
    response.on('data', (chunk: Buffer) => {
      received += chunk.length;
      options.onProgress?.({ received, total });
    });
    response.on('error', drop);
    response.on('aborted', () => drop(new Error('the connection closed early')));
    out.on('error', (error) => reject(new Error(`cannot write ${partial}: ${error.message}`)));
    out.on('finish', () => resolve(failure));
    response.pipe(out);
  });
  if (dropped && (total === undefined || received >= total)) throw offlineError(url, dropped);
  if (total !== undefined && received < total) {
    throw new Error(`cannot download ${url}: the connection closed after ${received} of ${total} bytes; run again to resume`);
  }
  if (options.sha256) await verifySha256(partial, options.sha256, url);
  renameSync(partial, dest);
}
