// A long mutation fuzzer for the checkpoint readers (safetensors, torch.save, .npy, MXNet
// .params), run
// by hand, outside the test suite:
//
//   node --import tsx scripts/fuzz-readers.ts [--seconds 3600] [--out fuzz-findings] [--seed N]
//
// A parent process keeps a worker process fuzzing; the worker writes each input to
// OUT/current.bin before reading it, so when the worker dies (a segfault, an abort, an
// out-of-memory kill) the parent saves the input that killed it. Inside the worker, any
// exception other than a CheckpointError, or a tensor left alive after a read, is saved
// as a finding too. Mutations are byte-level (flips, truncation, splices, duplication of
// a chunk) and structure-aware (numbers in the safetensors JSON header, pickle opcodes
// and their arguments, zip header fields), starting from files our writers produce.
import { fork } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';

const { values } = parseArgs({
  options: {
    seconds: { type: 'string', default: '3600' },
    out: { type: 'string', default: 'fuzz-findings' },
    seed: { type: 'string', default: String(Date.now() % 1e9) },
    worker: { type: 'boolean', default: false },
  },
});
const out = resolve(values.out);
mkdirSync(out, { recursive: true });
const seconds = Number(values.seconds);
if (!(seconds > 0)) throw new Error(`--seconds must be a positive number, got ${values.seconds}`);

/** xorshift32: a mutation stream that a seed repeats exactly. */
class Random {
  #state: number;
  constructor(seed: number) {
    this.#state = seed >>> 0 || 1;
  }
  next(): number {
    let x = this.#state;
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    this.#state = x >>> 0;
    return this.#state;
  }
  int(n: number): number {
    return n <= 0 ? 0 : this.next() % n;
  }
  pick<T>(items: readonly T[]): T {
    return items[this.int(items.length)];
  }
}

const INTERESTING = [0, 1, 2, 0x7f, 0x80, 0xff, 0x7fffffff, 0x80000000, 0xffffffff, 2 ** 31 - 1, 2 ** 32 - 1];
const INTERESTING_TEXT = ['0', '-1', '1e308', '18446744073709551616', '9007199254740993', 'NaN', '[]', '{}', 'null', '"x"', '1.5', '[0,0]', '[1,1e9]'];

function mutate(input: Uint8Array, random: Random): Uint8Array {
  let bytes = input.slice();
  const rounds = 1 + random.int(4);
  for (let round = 0; round < rounds; round++) {
    const at = random.int(bytes.length + 1);
    switch (random.int(8)) {
      case 0: // flip bits
        if (bytes.length) bytes[random.int(bytes.length)] ^= 1 << random.int(8);
        break;
      case 1: // a random byte
        if (bytes.length) bytes[random.int(bytes.length)] = random.int(256);
        break;
      case 2: // truncate
        bytes = bytes.slice(0, at);
        break;
      case 3: {
        // remove a run
        const count = 1 + random.int(32);
        bytes = new Uint8Array([...bytes.subarray(0, at), ...bytes.subarray(at + count)]);
        break;
      }
      case 4: {
        // duplicate a chunk somewhere else
        const from = random.int(bytes.length);
        const chunk = bytes.slice(from, from + 1 + random.int(64));
        bytes = new Uint8Array([...bytes.subarray(0, at), ...chunk, ...bytes.subarray(at)]);
        break;
      }
      case 5: {
        // an interesting 32-bit little-endian value (sizes, offsets, counts)
        if (bytes.length >= 4) new DataView(bytes.buffer).setUint32(random.int(bytes.length - 3), random.pick(INTERESTING) >>> 0, true);
        break;
      }
      case 6: {
        // replace a number in any JSON or Python-literal text (safetensors and .npy headers)
        const text = Buffer.from(bytes).toString('latin1');
        const numbers = [...text.matchAll(/-?\d+(\.\d+)?(e[+-]?\d+)?/gi)];
        if (numbers.length) {
          const match = random.pick(numbers);
          const replaced = text.slice(0, match.index) + random.pick(INTERESTING_TEXT) + text.slice((match.index ?? 0) + match[0].length);
          bytes = new Uint8Array(Buffer.from(replaced, 'latin1'));
        }
        break;
      }
      default: {
        // a pickle opcode byte (all of them, allowed or not)
        if (bytes.length) bytes[random.int(bytes.length)] = random.pick([0x28, 0x29, 0x2e, 0x4a, 0x4b, 0x58, 0x5d, 0x5e, 0x63, 0x71, 0x7d, 0x80, 0x81, 0x85, 0x86, 0x8a, 0x8c, 0x92, 0x93, 0x94, 0x95, 0x51, 0x52, 0x62]);
      }
    }
  }
  return bytes;
}

async function runWorker(seed: number): Promise<void> {
  const io = await import('../src/io/index.js');
  const { torch } = await import('../src/index.js');
  torch.manualSeed(seed % 1000);
  // Seeds: files our writers produce, with every dtype, 0-d and empty tensors, metadata.
  const dict = torch.tidy(() => ({
    'conv.weight': torch.randn([2, 3, 3, 3]).keep(),
    'bn.num_batches_tracked': torch.tensor(5).keep(),
    'fc.bias': torch.zeros([0]).keep(),
    half: torch.randn([3]).to('float16').keep(),
    bf: torch.randn([2]).to('bfloat16').keep(),
    mask: torch.tensor([true, false]).keep(),
    small: torch.arange(4).to('int8').keep(),
    wide: torch.arange(3).to('float64').keep(),
  }));
  const corpus = [
    { read: (b: Uint8Array) => io.decodeSafetensors(b, 'fuzz.safetensors'), bytes: io.encodeSafetensors(dict, { model: 'resnet18', classes: '["a","b"]' }) },
    { read: (b: Uint8Array) => io.decodeTorchFile(b, 'fuzz.pth'), bytes: io.encodeTorchFile(dict) },
    { read: (b: Uint8Array) => io.decodeTorchFile(b, 'fuzz.pth'), bytes: io.encodeTorchFile({ state_dict: dict, epoch: 3, nested: [1, 2.5, 'x', null, true] }) },
    { read: (b: Uint8Array) => io.decodeNpy(b, 'fuzz.npy'), bytes: io.encodeNpy(dict['conv.weight']) },
    { read: (b: Uint8Array) => io.decodeNpy(b, 'fuzz.npy'), bytes: io.encodeNpy(dict.mask) },
    { read: (b: Uint8Array) => io.decodeMxnetParams(b, 'fuzz.params'), bytes: io.encodeMxnetParams(Object.fromEntries(Object.entries(dict).filter(([, t]) => t.ndim > 0))) },
  ];
  torch.dispose(dict);
  const random = new Random(seed);
  const current = join(out, 'current.bin');
  let runs = 0;
  let refused = 0;
  const started = Date.now();
  for (;;) {
    const entry = random.pick(corpus);
    const input = mutate(entry.bytes, random);
    writeFileSync(current, input);
    const before = torch.memory().liveTensors;
    runs++;
    try {
      torch.tidy(() => void entry.read(input));
    } catch (error) {
      if (error instanceof io.CheckpointError) refused++;
      else {
        const name = join(out, `exception-${seed}-${runs}.bin`);
        writeFileSync(name, input);
        process.send?.({ finding: `${(error as Error)?.constructor?.name}: ${String((error as Error)?.message).slice(0, 300)} (${name})` });
      }
    }
    if (torch.memory().liveTensors !== before) {
      const name = join(out, `leak-${seed}-${runs}.bin`);
      writeFileSync(name, input);
      process.send?.({ finding: `a read left ${torch.memory().liveTensors - before} tensors alive (${name})` });
    }
    if (runs % 5000 === 0) process.send?.({ progress: { runs, refused, seconds: (Date.now() - started) / 1000 } });
  }
}

async function runParent(): Promise<void> {
  const deadline = Date.now() + seconds * 1000;
  let seed = Number(values.seed);
  let total = 0;
  const findings: string[] = [];
  console.log(`fuzzing the readers for ${seconds} s; findings go to ${out}`);
  while (Date.now() < deadline) {
    const child = fork(new URL(import.meta.url).pathname, ['--worker', '--seed', String(seed), '--out', out], { execArgv: ['--import', 'tsx'] });
    let last = 0;
    child.on('message', (message: { finding?: string; progress?: { runs: number; refused: number; seconds: number } }) => {
      if (message.finding) {
        findings.push(message.finding);
        console.log(`finding: ${message.finding}`);
      }
      if (message.progress) {
        last = message.progress.runs;
        console.log(`seed ${seed}: ${message.progress.runs} inputs, ${message.progress.refused} refused with a CheckpointError, ${message.progress.seconds.toFixed(0)} s`);
      }
    });
    const timer = setTimeout(() => child.kill('SIGTERM'), Math.max(0, deadline - Date.now()));
    const [code, signal] = (await new Promise((done) => child.on('exit', (c, s) => done([c, s])))) as [number | null, string | null];
    clearTimeout(timer);
    total += last;
    if (Date.now() >= deadline - 100) break;
    // The worker died on its own: the input it was reading is a finding.
    const name = join(out, `crash-${seed}-${signal ?? code}.bin`);
    writeFileSync(name, await import('node:fs').then((fs) => fs.readFileSync(join(out, 'current.bin'))));
    findings.push(`the worker exited with ${signal ?? `code ${code}`} (${name})`);
    console.log(`finding: the worker exited with ${signal ?? `code ${code}`}; input saved to ${name}`);
    seed++;
  }
  console.log(`done: about ${total} inputs, ${findings.length} finding${findings.length === 1 ? '' : 's'}`);
  process.exitCode = findings.length > 0 ? 1 : 0;
}

await (values.worker ? runWorker(Number(values.seed)) : runParent());
