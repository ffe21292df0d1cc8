// Property-based tests (fast-check) for the checkpoint readers (safetensors, torch.save,
// .npy, MXNet .params) and the CLI's option
// parsing. Readers: any tensors written read back bit-exact, and any bytes at all (random,
// truncated or mutated files) either read or fail with a CheckpointError, never another
// exception, a crash or a leaked tensor. Runs are bounded so the file takes seconds; set
// RESNETS_PROPERTY_RUNS for a longer search (the fuzz script in scripts/ runs for hours).
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { InvalidArgumentError, type Option } from 'commander';
import fc from 'fast-check';
import { buildProgram } from '../src/cli/main.js';
import * as options from '../src/cli/options.js';
import * as io from '../src/io/index.js';
import { torch } from '../src/index.js';
import { fromBytes } from '../src/torch/creation.js';
import { dtypeSize, type DType } from '../src/torch/dtype.js';

const RUNS = Number(process.env.RESNETS_PROPERTY_RUNS ?? 150);
const settings = { numRuns: RUNS, seed: Number(process.env.RESNETS_PROPERTY_SEED ?? 20261202) };

const DTYPES: DType[] = ['float32', 'float64', 'float16', 'bfloat16', 'int64', 'int32', 'int16', 'int8', 'uint8', 'bool'];
const NPY_DTYPES: DType[] = DTYPES.filter((d) => d !== 'bfloat16');

/** A tensor description: dtype, a small shape (0-d to 4-d, zero sizes included) and its raw bytes. */
const tensorSpec = (dtypes: DType[], minDims = 0) =>
  fc
    .record({ dtype: fc.constantFrom(...dtypes), shape: fc.array(fc.integer({ min: 0, max: 4 }), { minLength: minDims, maxLength: 4 }) })
    .chain(({ dtype, shape }) => {
      const numel = shape.reduce((a, b) => a * b, 1);
      const bytes = dtype === 'bool' ? fc.uint8Array({ min: 0, max: 1, minLength: numel, maxLength: numel }) : fc.uint8Array({ minLength: numel * dtypeSize[dtype], maxLength: numel * dtypeSize[dtype] });
      return bytes.map((data) => ({ dtype, shape, data }));
    });
type Spec = { dtype: DType; shape: number[]; data: Uint8Array };
const make = (spec: Spec) => fromBytes(spec.data, spec.dtype, spec.shape);

/** Keys such as 'layer1.0.conv1.weight', and unusual but legal ones ('', unicode, '__proto__'). */
const key = fc.oneof(fc.stringMatching(/^[a-z_][a-z0-9_.]{0,20}$/), fc.string({ maxLength: 8 }), fc.constantFrom('__proto__', 'constructor', 'toString', ''));
const stateDict = (dtypes: DType[], minDims = 0) => fc.dictionary(key, tensorSpec(dtypes, minDims), { maxKeys: 5 });

function sameTensor(actual: torch.Tensor, spec: Spec): void {
  assert.equal(actual.dtype, spec.dtype);
  assert.deepEqual(actual.shape, spec.shape);
  assert.deepEqual(actual.toBytes(), spec.data);
}

/** Reading `bytes` either succeeds or throws a CheckpointError; nothing it made stays alive. */
function readsOrRefuses(read: () => unknown): void {
  // No collection per run (it would cost more than the read): earlier garbage can only
  // lower the count, so a read that leaves a tensor alive shows as a rise (unless a
  // collection frees as much older garbage during that very read).
  const before = torch.memory().liveTensors;
  try {
    torch.tidy(() => void read());
  } catch (error) {
    if (!(error instanceof io.CheckpointError)) throw new Error(`threw ${(error as Error)?.constructor?.name}: ${String(error)}`);
  }
  assert.ok(torch.memory().liveTensors <= before, 'a failed or finished read left tensors alive');
}

/** Byte-level damage to a valid file: truncation, flipped bytes, an inserted or removed run. */
const damage = (file: Uint8Array) =>
  fc.oneof(
    fc.integer({ min: 0, max: file.length }).map((end) => file.slice(0, end)),
    fc.array(fc.tuple(fc.nat({ max: Math.max(0, file.length - 1) }), fc.integer({ min: 1, max: 255 })), { minLength: 1, maxLength: 8 }).map((flips) => {
      const copy = file.slice();
      for (const [at, mask] of flips) copy[at] ^= mask;
      return copy;
    }),
    fc.tuple(fc.nat({ max: file.length }), fc.uint8Array({ minLength: 1, maxLength: 16 })).map(([at, extra]) => new Uint8Array([...file.subarray(0, at), ...extra, ...file.subarray(at)])),
    fc.tuple(fc.nat({ max: file.length }), fc.integer({ min: 1, max: 64 })).map(([at, count]) => new Uint8Array([...file.subarray(0, at), ...file.subarray(at + count)])),
  );

const formats = [
  { name: 'safetensors', dtypes: DTYPES, minDims: 0, encode: (d: Record<string, torch.Tensor>) => io.encodeSafetensors(d), decode: (b: Uint8Array) => io.decodeSafetensors(b).tensors },
  // MXNet's (non-NumPy) format has no 0-d arrays: its writer refuses them.
  { name: 'MXNet .params', dtypes: DTYPES, minDims: 1, encode: (d: Record<string, torch.Tensor>) => io.encodeMxnetParams(d), decode: (b: Uint8Array) => io.decodeMxnetParams(b) },
  { name: 'torch.save', dtypes: DTYPES, minDims: 0, encode: (d: Record<string, torch.Tensor>) => io.encodeTorchFile(d), decode: (b: Uint8Array) => io.stateDictFrom(io.decodeTorchFile(b)) },
] as const;

for (const format of formats) {
  describe(`${format.name} (property-based)`, () => {
    it('any state dict reads back bit-exact', () => {
      fc.assert(
        fc.property(stateDict(format.dtypes, format.minDims), (specs) => {
          const bytes = torch.tidy(() => format.encode(Object.fromEntries(Object.entries(specs).map(([k, s]) => [k, make(s)]))));
          torch.tidy(() => {
            const read = format.decode(bytes);
            assert.deepEqual(Object.keys(read).sort(), Object.keys(specs).sort());
            for (const [k, spec] of Object.entries(specs)) sameTensor(read[k], spec);
          });
        }),
        settings,
      );
    });

    it('damaged files read or fail with a CheckpointError, never anything else', () => {
      const valid = fc.sample(stateDict(format.dtypes, format.minDims).filter((d) => Object.keys(d).length > 0), { numRuns: 4, seed: settings.seed }).map((specs) =>
        torch.tidy(() => format.encode(Object.fromEntries(Object.entries(specs).map(([k, s]) => [k, make(s)])))),
      );
      fc.assert(fc.property(fc.constantFrom(...valid).chain(damage), (bytes) => readsOrRefuses(() => format.decode(bytes))), settings);
    });

    it('arbitrary bytes fail with a CheckpointError', () => {
      fc.assert(fc.property(fc.uint8Array({ maxLength: 256 }), (bytes) => readsOrRefuses(() => format.decode(bytes))), settings);
    });
  });
}

describe('.npy (property-based)', () => {
  it('any tensor NumPy can hold reads back bit-exact', () => {
    fc.assert(
      fc.property(tensorSpec(NPY_DTYPES), (spec) => {
        const bytes = torch.tidy(() => io.encodeNpy(make(spec)));
        torch.tidy(() => sameTensor(io.decodeNpy(bytes), spec));
      }),
      settings,
    );
  });
  it('damaged and arbitrary files read or fail with a CheckpointError', () => {
    const valid = fc.sample(tensorSpec(NPY_DTYPES), { numRuns: 4, seed: settings.seed }).map((spec) => torch.tidy(() => io.encodeNpy(make(spec))));
    fc.assert(fc.property(fc.oneof(fc.constantFrom(...valid).chain(damage), fc.uint8Array({ maxLength: 200 })), (bytes) => readsOrRefuses(() => io.decodeNpy(bytes))), settings);
  });
});

describe('CLI option parsing (property-based)', () => {
  /** Every option of every subcommand that parses its value. */
  const parsed = buildProgram().commands.flatMap((command) =>
    (command.options as Option[]).filter((option) => option.parseArg).map((option) => ({ name: `${command.name()} ${option.long}`, parse: option.parseArg as (value: string, previous: unknown) => unknown })),
  );

  it('covers the options that take numbers', () => {
    assert.ok(parsed.length >= 20, `only ${parsed.length} parsed options`);
  });

  it('any text is parsed to a finite value or refused with a usage error naming it', () => {
    const text = fc.oneof(fc.string({ maxLength: 12 }), fc.double().map(String), fc.integer().map(String), fc.constantFrom('1e30', '1e308', 'NaN', 'Infinity', '-0', '0x10', ' 3', '3 ', '', '1,,2', '2x', 'x2'));
    fc.assert(
      fc.property(fc.constantFrom(...parsed), text, ({ name, parse }, value) => {
        let result: unknown;
        try {
          result = parse(value, undefined);
        } catch (error) {
          assert.ok(error instanceof InvalidArgumentError, `${name} '${value}': threw ${String(error)}`);
          assert.ok(error.message.includes(`'${value}'`) || error.message.includes(value), `${name}: the message does not quote '${value}': ${error.message}`);
          return;
        }
        const numbers = [result].flat(2).filter((v) => typeof v === 'number') as number[];
        for (const n of numbers) assert.ok(Number.isFinite(n), `${name} '${value}' gave ${n}`);
      }),
      settings,
    );
  });

  it('integer parsers give back exactly the safe integers they are given, and refuse the rest', () => {
    fc.assert(
      fc.property(fc.oneof(fc.maxSafeInteger(), fc.double({ noNaN: false })), (n) => {
        const text = String(n);
        for (const [parse, lowest] of [[options.parsePositiveInt, 1], [options.parseNonNegativeInt, 0]] as const) {
          if (Number.isSafeInteger(n) && n >= lowest) assert.equal(parse(text), Number(text));
          else assert.throws(() => parse(text), InvalidArgumentError);
        }
      }),
      settings,
    );
  });

  it('shapes and integer lists round-trip through their text form', () => {
    fc.assert(
      fc.property(fc.array(fc.integer({ min: 1, max: 1e6 }), { minLength: 1, maxLength: 5 }), fc.constantFrom('x', ',', 'X'), (sizes, separator) => {
        assert.deepEqual(options.parseShape(sizes.join(separator)), sizes);
        assert.deepEqual(options.parsePositiveIntList(sizes.join(',')), sizes);
      }),
      settings,
    );
  });
});
