// A small pickle virtual machine for the opcodes of protocols 2 to 4 that describe
// plain data. It never imports or calls anything by itself: GLOBAL asks the caller's
// allow-list, REDUCE only calls what that allow-list returned, BUILD and persistent
// ids go to the caller's hooks. Every opcode consumes at least one byte, so a run is
// linear in the input and cannot loop; every length is checked before it is read.
import { CheckpointError } from '../errors.js';
import { decodeUtf8, setOwn } from '../shared.js';
import { Op, opName } from './opcodes.js';

/** A value that only means something inside the unpickler (a class, a function, a storage). */
export abstract class PickleInternal {
  abstract readonly fullName: string;
}

/** A function the allow-list permits REDUCE to call. */
export class PickleCallable extends PickleInternal {
  constructor(
    readonly fullName: string,
    readonly call: (args: readonly unknown[]) => unknown,
  ) {
    super();
  }
}

export interface UnpickleHooks {
  /** Returns the value for `module.name`, or throws if it is not allowed. */
  findGlobal(module: string, name: string): unknown;
  /** Resolves a persistent id (BINPERSID), e.g. a tensor storage. */
  persistentLoad?(pid: unknown): unknown;
  /** Applies BUILD's state to `target`, or throws if that is not allowed. */
  build?(target: unknown, state: unknown): void;
  /**
   * What a Python 2 `str` (BINSTRING, SHORT_BINSTRING) becomes: a latin-1 string
   * (the default), or its bytes, as Python 3's pickle.load(f, encoding='bytes').
   */
  py2Strings?: 'latin1' | 'bytes';
}

/** Python tuples come out as frozen arrays; lists as ordinary arrays. */
export function isTuple(value: unknown): value is readonly unknown[] {
  return Array.isArray(value) && Object.isFrozen(value);
}

const MAX_DEPTH = 1000;
const MAX_LONG_BYTES = 64;

class Machine {
  #pos = 0;
  #opStart = 0;
  #stack: unknown[] = [];
  readonly #marks: unknown[][] = [];
  readonly #memo = new Map<number, unknown>();
  readonly #view: DataView;

  constructor(
    private readonly bytes: Uint8Array,
    private readonly hooks: UnpickleHooks,
  ) {
    this.#view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  }

  run(): unknown {
    for (;;) {
      this.#opStart = this.#pos;
      if (this.#pos >= this.bytes.length) throw new Error('the pickle ends without a STOP opcode (truncated?)');
      const code = this.bytes[this.#pos++];
      if (code === Op.STOP) return this.#finish();
      this.#step(code);
    }
  }

  /** Where the opcode being run starts, and its name, for error messages. */
  get location(): string {
    const code = this.bytes[this.#opStart];
    return code === undefined ? `byte ${this.#opStart}` : `byte ${this.#opStart} (${opName(code)})`;
  }

  #finish(): unknown {
    if (this.#marks.length > 0 || this.#stack.length !== 1) throw new Error(`STOP with ${this.#stack.length} values and ${this.#marks.length} open marks on the stack (malformed pickle)`);
    if (this.#pos !== this.bytes.length) throw new Error(`${this.bytes.length - this.#pos} bytes follow the STOP opcode`);
    return this.#stack[0];
  }

  #need(count: number): void {
    if (this.#pos + count > this.bytes.length) throw new Error(`needs ${count} more bytes but the pickle ends (truncated?)`);
  }
  #u8(): number {
    this.#need(1);
    return this.bytes[this.#pos++];
  }
  #u16(): number {
    this.#need(2);
    const value = this.#view.getUint16(this.#pos, true);
    this.#pos += 2;
    return value;
  }
  #u32(): number {
    this.#need(4);
    const value = this.#view.getUint32(this.#pos, true);
    this.#pos += 4;
    return value;
  }
  #i32(): number {
    this.#need(4);
    const value = this.#view.getInt32(this.#pos, true);
    this.#pos += 4;
    return value;
  }
  #u64(): number {
    this.#need(8);
    const value = this.#view.getBigUint64(this.#pos, true);
    this.#pos += 8;
    if (value > BigInt(this.bytes.length)) throw new Error(`length ${value} is larger than the whole pickle`);
    return Number(value);
  }
  #take(count: number): Uint8Array {
    this.#need(count);
    const slice = this.bytes.subarray(this.#pos, this.#pos + count);
    this.#pos += count;
    return slice;
  }
  #line(): string {
    const end = this.bytes.indexOf(0x0a, this.#pos);
    if (end < 0) throw new Error('a text line has no newline (truncated?)');
    const text = decodeUtf8(this.bytes.subarray(this.#pos, end), 'a module or name');
    this.#pos = end + 1;
    return text;
  }

  #push(value: unknown): void {
    this.#stack.push(value);
  }
  #pop(): unknown {
    if (this.#stack.length === 0) throw new Error('stack underflow (malformed pickle)');
    return this.#stack.pop();
  }
  #top(): unknown {
    if (this.#stack.length === 0) throw new Error('stack underflow (malformed pickle)');
    return this.#stack[this.#stack.length - 1];
  }
  #popMark(): unknown[] {
    const items = this.#stack;
    const outer = this.#marks.pop();
    if (!outer) throw new Error('no MARK to pop to (malformed pickle)');
    this.#stack = outer;
    return items;
  }
  #popN(count: number): unknown[] {
    if (this.#stack.length < count) throw new Error('stack underflow (malformed pickle)');
    return this.#stack.splice(this.#stack.length - count, count);
  }

  #int(value: bigint): number | bigint {
    return value >= BigInt(Number.MIN_SAFE_INTEGER) && value <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(value) : value;
  }
  /** Python's little-endian two's-complement long encoding. */
  #long(bytes: Uint8Array): number | bigint {
    let value = 0n;
    for (let i = bytes.length - 1; i >= 0; i--) value = (value << 8n) | BigInt(bytes[i]);
    if (bytes.length > 0 && bytes[bytes.length - 1] & 0x80) value -= 1n << BigInt(8 * bytes.length);
    return this.#int(value);
  }

  #global(module: string, name: string): void {
    this.#push(this.hooks.findGlobal(module, name));
  }
  #memoGet(index: number): void {
    if (!this.#memo.has(index)) throw new Error(`memo entry ${index} was never stored`);
    this.#push(this.#memo.get(index));
  }
  #list(): unknown[] {
    const list = this.#top();
    if (!Array.isArray(list) || isTuple(list)) throw new Error('APPEND targets something that is not a list');
    return list;
  }
  #dict(): Map<unknown, unknown> {
    const dict = this.#top();
    if (!(dict instanceof Map)) throw new Error('SETITEM targets something that is not a dict');
    return dict;
  }
  #setItems(dict: Map<unknown, unknown>, items: unknown[]): void {
    if (items.length % 2 !== 0) throw new Error('SETITEMS has an odd number of items');
    for (let i = 0; i < items.length; i += 2) dict.set(items[i], items[i + 1]);
  }

  #py2String(bytes: Uint8Array): string | Uint8Array {
    if (this.hooks.py2Strings === 'bytes') return bytes.slice();
    // Latin-1 maps each byte to the code point of the same value (TextDecoder's 'latin1' is windows-1252).
    let text = '';
    for (let i = 0; i < bytes.length; i += 8192) text += String.fromCharCode(...bytes.subarray(i, i + 8192));
    return text;
  }

  #step(code: number): void {
    switch (code) {
      case Op.PROTO: {
        const version = this.#u8();
        if (version > 5) throw new Error(`unsupported pickle protocol ${version}`);
        return;
      }
      case Op.FRAME:
        this.#u64();
        return;
      case Op.MARK:
        this.#marks.push(this.#stack);
        this.#stack = [];
        return;
      case Op.POP:
        if (this.#stack.length > 0) this.#stack.pop();
        else this.#popMark();
        return;
      case Op.POP_MARK:
        this.#popMark();
        return;
      case Op.DUP:
        return this.#push(this.#top());
      case Op.NONE:
        return this.#push(null);
      case Op.NEWTRUE:
        return this.#push(true);
      case Op.NEWFALSE:
        return this.#push(false);
      case Op.BININT:
        return this.#push(this.#i32());
      case Op.BININT1:
        return this.#push(this.#u8());
      case Op.BININT2:
        return this.#push(this.#u16());
      case Op.LONG1:
        return this.#push(this.#long(this.#take(this.#u8())));
      case Op.LONG4: {
        const length = this.#i32();
        if (length < 0) throw new Error(`LONG4 with negative length ${length}`);
        // State dicts hold 8-byte integers at most; a huge one would only cost time.
        if (length > MAX_LONG_BYTES) throw new Error(`LONG4 of ${length} bytes; integers over ${MAX_LONG_BYTES} bytes are not read`);
        return this.#push(this.#long(this.#take(length)));
      }
      case Op.BINFLOAT: {
        this.#need(8);
        const value = this.#view.getFloat64(this.#pos, false);
        this.#pos += 8;
        return this.#push(value);
      }
      case Op.SHORT_BINUNICODE:
        return this.#push(decodeUtf8(this.#take(this.#u8()), 'a string'));
      case Op.BINUNICODE:
        return this.#push(decodeUtf8(this.#take(this.#u32()), 'a string'));
      case Op.BINUNICODE8:
        return this.#push(decodeUtf8(this.#take(this.#u64()), 'a string'));
      case Op.SHORT_BINSTRING:
        return this.#push(this.#py2String(this.#take(this.#u8())));
      case Op.BINSTRING: {
        const length = this.#i32();
        if (length < 0) throw new Error(`BINSTRING with negative length ${length}`);
        return this.#push(this.#py2String(this.#take(length)));
      }
      case Op.SHORT_BINBYTES:
        return this.#push(this.#take(this.#u8()).slice());
      case Op.BINBYTES:
        return this.#push(this.#take(this.#u32()).slice());
      case Op.BINBYTES8:
        return this.#push(this.#take(this.#u64()).slice());
      case Op.EMPTY_TUPLE:
        return this.#push(Object.freeze([]));
      case Op.TUPLE:
        return this.#push(Object.freeze(this.#popMark()));
      case Op.TUPLE1:
      case Op.TUPLE2:
      case Op.TUPLE3:
        return this.#push(Object.freeze(this.#popN(code - Op.TUPLE1 + 1)));
      case Op.EMPTY_LIST:
        return this.#push([]);
      case Op.LIST:
        return this.#push(this.#popMark());
      case Op.APPEND: {
        const item = this.#pop();
        this.#list().push(item);
        return;
      }
      case Op.APPENDS: {
        const items = this.#popMark();
        const list = this.#list();
        for (const item of items) list.push(item);
        return;
      }
      case Op.EMPTY_DICT:
        return this.#push(new Map());
      case Op.DICT: {
        const dict = new Map();
        this.#setItems(dict, this.#popMark());
        return this.#push(dict);
      }
      case Op.SETITEM: {
        const [key, value] = this.#popN(2);
        this.#dict().set(key, value);
        return;
      }
      case Op.SETITEMS: {
        const items = this.#popMark();
        this.#setItems(this.#dict(), items);
        return;
      }
      case Op.BINPUT:
        this.#memo.set(this.#u8(), this.#top());
        return;
      case Op.LONG_BINPUT:
        this.#memo.set(this.#u32(), this.#top());
        return;
      case Op.MEMOIZE:
        this.#memo.set(this.#memo.size, this.#top());
        return;
      case Op.BINGET:
        return this.#memoGet(this.#u8());
      case Op.LONG_BINGET:
        return this.#memoGet(this.#u32());
      case Op.GLOBAL: {
        const module = this.#line();
        return this.#global(module, this.#line());
      }
      case Op.STACK_GLOBAL: {
        const [module, name] = this.#popN(2);
        if (typeof module !== 'string' || typeof name !== 'string') throw new Error('STACK_GLOBAL needs two strings');
        return this.#global(module, name);
      }
      case Op.REDUCE: {
        const args = this.#pop();
        const callable = this.#pop();
        if (!(callable instanceof PickleCallable)) throw new Error(`REDUCE calls ${describeValue(callable)}, which is not an allowed function`);
        if (!isTuple(args)) throw new Error(`REDUCE of ${callable.fullName} has arguments that are not a tuple`);
        return this.#push(callable.call(args));
      }
      case Op.BUILD: {
        const state = this.#pop();
        const target = this.#top();
        if (!this.hooks.build) throw new Error('BUILD is not allowed');
        this.hooks.build(target, state);
        return;
      }
      case Op.BINPERSID: {
        const pid = this.#pop();
        if (!this.hooks.persistentLoad) throw new Error('persistent ids are not allowed');
        return this.#push(this.hooks.persistentLoad(pid));
      }
      case Op.NEWOBJ:
      case Op.NEWOBJ_EX: {
        const [cls] = this.#popN(2);
        throw new Error(`${opName(code)} would instantiate ${describeValue(cls)}; creating objects is not allowed`);
      }
      case Op.INST:
      case Op.OBJ:
      case Op.EXT1:
      case Op.EXT2:
      case Op.EXT4:
        throw new Error(`opcode ${opName(code)} can import and call arbitrary code and is not allowed`);
      default:
        throw new Error(`unsupported pickle opcode ${opName(code)}`);
    }
  }
}

function describeValue(value: unknown): string {
  if (value instanceof PickleInternal) return value.fullName;
  if (value === null) return 'None';
  if (typeof value === 'object') return (value as object).constructor?.name ?? 'an object';
  return `a ${typeof value}`;
}

/** Turns the machine's values into plain JS: dicts with only string keys become objects. */
function toPlain(value: unknown, seen: Map<unknown, unknown>, depth: number): unknown {
  if (value === null || typeof value !== 'object') return value;
  if (value instanceof PickleInternal) throw new Error(`the unpickled value holds a bare ${value.fullName}, which has no meaning outside the file`);
  if (depth > MAX_DEPTH) throw new Error(`the pickle nests more than ${MAX_DEPTH} levels deep`);
  const done = seen.get(value);
  if (done !== undefined) return done;
  if (Array.isArray(value)) {
    const out: unknown[] = [];
    seen.set(value, out);
    for (const item of value) out.push(toPlain(item, seen, depth + 1));
    return isTuple(value) ? Object.freeze(out) : out;
  }
  if (value instanceof Map) {
    if ([...value.keys()].every((key) => typeof key === 'string')) {
      const out: Record<string, unknown> = {};
      seen.set(value, out);
      for (const [key, item] of value) setOwn(out, key as string, toPlain(item, seen, depth + 1));
      return out;
    }
    const out = new Map<unknown, unknown>();
    seen.set(value, out);
    for (const [key, item] of value) out.set(toPlain(key, seen, depth + 1), toPlain(item, seen, depth + 1));
    return out;
  }
  return value;
}

/**
 * Runs a pickle and returns its value as plain JS: None → null, bool, int → number
 * (bigint beyond 2^53), float → number, str → string, bytes → Uint8Array, list →
 * array, tuple → frozen array, dict → object (string keys) or Map, plus whatever
 * the hooks produce (tensors). `source` prefixes error messages.
 */
export function unpickle(bytes: Uint8Array, hooks: UnpickleHooks, source: string): unknown {
  const machine = new Machine(bytes, hooks);
  let result: unknown;
  try {
    result = machine.run();
  } catch (error) {
    if (error instanceof CheckpointError) throw error;
    throw new CheckpointError(`${source}: ${machine.location}: ${(error as Error).message}`);
  }
  try {
    return toPlain(result, new Map(), 0);
  } catch (error) {
    throw new CheckpointError(`${source}: ${(error as Error).message}`);
  }
}
