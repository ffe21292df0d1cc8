// Emits pickle opcodes into a growing buffer. The torch.save writer uses it, and
// tests use it to forge pickles opcode by opcode.
import { Op } from './opcodes.js';

export class PickleBuilder {
  #buffer = new Uint8Array(1024);
  #view = new DataView(this.#buffer.buffer);
  #length = 0;

  #reserve(count: number): void {
    if (this.#length + count <= this.#buffer.length) return;
    const grown = new Uint8Array(Math.max(this.#buffer.length * 2, this.#length + count));
    grown.set(this.#buffer.subarray(0, this.#length));
    this.#buffer = grown;
    this.#view = new DataView(grown.buffer);
  }

  /** Raw opcode bytes and arguments, for anything the helpers below do not cover. */
  raw(...bytes: number[]): this {
    this.#reserve(bytes.length);
    this.#buffer.set(bytes, this.#length);
    this.#length += bytes.length;
    return this;
  }
  bytes(data: Uint8Array): this {
    this.#reserve(data.length);
    this.#buffer.set(data, this.#length);
    this.#length += data.length;
    return this;
  }
  u32(value: number): this {
    this.#reserve(4);
    this.#view.setUint32(this.#length, value, true);
    this.#length += 4;
    return this;
  }

  proto(version = 2): this {
    return this.raw(Op.PROTO, version);
  }
  stop(): this {
    return this.raw(Op.STOP);
  }
  mark(): this {
    return this.raw(Op.MARK);
  }
  none(): this {
    return this.raw(Op.NONE);
  }
  bool(value: boolean): this {
    return this.raw(value ? Op.NEWTRUE : Op.NEWFALSE);
  }
  /** An integer in the shortest form Python's pickler would choose. */
  int(value: number | bigint): this {
    if (typeof value === 'number' && !Number.isSafeInteger(value)) throw new Error(`pickle int: ${value} is not a safe integer`);
    const big = BigInt(value);
    if (big >= 0n && big < 256n) return this.raw(Op.BININT1, Number(big));
    if (big >= 0n && big < 65536n) return this.raw(Op.BININT2, Number(big & 0xffn), Number(big >> 8n));
    if (big >= -(2n ** 31n) && big < 2n ** 31n) return this.raw(Op.BININT).u32(Number(BigInt.asUintN(32, big)));
    const bytes: number[] = [];
    let rest = big;
    // Two's complement, little-endian, as few bytes as keep the sign.
    for (;;) {
      bytes.push(Number(rest & 0xffn));
      rest >>= 8n;
      const top = bytes[bytes.length - 1] & 0x80;
      if ((rest === 0n && !top) || (rest === -1n && top)) break;
    }
    return this.raw(Op.LONG1, bytes.length, ...bytes);
  }
  float(value: number): this {
    this.#reserve(9);
    this.#buffer[this.#length] = Op.BINFLOAT;
    this.#view.setFloat64(this.#length + 1, value, false);
    this.#length += 9;
    return this;
  }
  string(value: string): this {
    const encoded = new TextEncoder().encode(value);
    return this.raw(Op.BINUNICODE).u32(encoded.length).bytes(encoded);
  }
  global(module: string, name: string): this {
    return this.raw(Op.GLOBAL).bytes(new TextEncoder().encode(`${module}\n${name}\n`));
  }
  emptyTuple(): this {
    return this.raw(Op.EMPTY_TUPLE);
  }
  /** Closes a tuple of `count` items: TUPLE1-3 take them from the stack, larger ones need a MARK first. */
  tuple(count: number): this {
    if (count === 0) return this.emptyTuple();
    if (count <= 3) return this.raw(Op.TUPLE1 + count - 1);
    return this.raw(Op.TUPLE);
  }
  emptyList(): this {
    return this.raw(Op.EMPTY_LIST);
  }
  appends(): this {
    return this.raw(Op.APPENDS);
  }
  emptyDict(): this {
    return this.raw(Op.EMPTY_DICT);
  }
  setitems(): this {
    return this.raw(Op.SETITEMS);
  }
  reduce(): this {
    return this.raw(Op.REDUCE);
  }
  build(): this {
    return this.raw(Op.BUILD);
  }
  persid(): this {
    return this.raw(Op.BINPERSID);
  }
  put(index: number): this {
    return index < 256 ? this.raw(Op.BINPUT, index) : this.raw(Op.LONG_BINPUT).u32(index);
  }
  get(index: number): this {
    return index < 256 ? this.raw(Op.BINGET, index) : this.raw(Op.LONG_BINGET).u32(index);
  }

  finish(): Uint8Array {
    return this.#buffer.slice(0, this.#length);
  }
}
