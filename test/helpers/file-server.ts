// A loopback HTTP server (a static host) for files a test makes, on a worker thread: it keeps serving
// while the test's own thread is blocked (createModel downloads synchronously through a
// child process). It honours `Range: bytes=N-` and can drop a response part-way.
import { Worker } from 'node:worker_threads';

const serverCode = `
const { createServer } = require('node:http');
const { readFileSync, existsSync } = require('node:fs');
const { join } = require('node:path');
const { parentPort, workerData } = require('node:worker_threads');
const requests = [];
const types = { '.html': 'text/html', '.js': 'text/javascript', '.mjs': 'text/javascript', '.css': 'text/css', '.json': 'application/json', '.wasm': 'application/wasm', '.svg': 'image/svg+xml', '.png': 'image/png' };
const typeOf = (file) => types[require('node:path').extname(file)] || 'application/octet-stream';
let cutAfter;
const server = createServer((req, res) => {
  let path = decodeURIComponent((req.url || '/').split('?')[0]);
  if (path.endsWith('/')) path += 'index.html';
  requests.push({ path, range: req.headers.range });
  const file = join(workerData.root, path.slice(1));
  if (path.includes('..') || !existsSync(file)) { res.writeHead(404).end(); return; }
  const body = readFileSync(file);
  const range = /^bytes=(\\d+)-$/.exec(req.headers.range || '');
  if (range) {
    const start = Number(range[1]);
    res.writeHead(206, { 'content-type': typeOf(file), 'content-length': body.length - start, 'content-range': 'bytes ' + start + '-' + (body.length - 1) + '/' + body.length });
    res.end(body.subarray(start));
    return;
  }
  res.writeHead(200, { 'content-type': typeOf(file), 'content-length': body.length });
  if (cutAfter !== undefined) {
    const cut = cutAfter;
    cutAfter = undefined;
    res.write(body.subarray(0, cut), () => res.destroy());
    return;
  }
  res.end(body);
});
parentPort.on('message', (message) => {
  if (message.type === 'cut') { cutAfter = message.bytes; parentPort.postMessage({ type: 'ok' }); }
  if (message.type === 'requests') parentPort.postMessage({ type: 'requests', requests });
  if (message.type === 'stop') { server.closeAllConnections(); server.close(() => parentPort.postMessage({ type: 'stopped' })); }
});
server.listen(0, '127.0.0.1', () => parentPort.postMessage({ type: 'listening', port: server.address().port }));
`;

export interface ServedRequest {
  path: string;
  range?: string;
}

export class LoopbackFileServer {
  private constructor(
    readonly worker: Worker,
    /** http://127.0.0.1:PORT (no trailing slash); files are served by name from the root folder. */
    readonly url: string,
  ) {}

  static async start(root: string): Promise<LoopbackFileServer> {
    const worker = new Worker(serverCode, { eval: true, workerData: { root } });
    const port = await new Promise<number>((resolve, reject) => {
      worker.once('message', (message: { port: number }) => resolve(message.port));
      worker.once('error', reject);
    });
    return new LoopbackFileServer(worker, `http://127.0.0.1:${port}`);
  }

  #ask<T>(message: object, replyType: string): Promise<T> {
    return new Promise((resolve) => {
      const listener = (reply: { type: string }) => {
        if (reply.type !== replyType) return;
        this.worker.off('message', listener);
        resolve(reply as T);
      };
      this.worker.on('message', listener);
      this.worker.postMessage(message);
    });
  }

  /** The next full (non-Range) response sends `bytes` bytes, then drops the connection. */
  async cutNextAfter(bytes: number): Promise<void> {
    await this.#ask({ type: 'cut', bytes }, 'ok');
  }

  async requests(): Promise<ServedRequest[]> {
    return (await this.#ask<{ requests: ServedRequest[] }>({ type: 'requests' }, 'requests')).requests;
  }

  async stop(): Promise<void> {
    await this.#ask({ type: 'stop' }, 'stopped');
    await this.worker.terminate();
  }
}
