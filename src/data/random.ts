// A small seeded generator for shuffling and augmentation. Streams are derived from
// (seed, epoch, sample index) by hashing, so a sample's augmentation never depends on
// which samples were drawn before it: resuming mid-epoch reproduces the same batches.

const GOLDEN = 0x9e3779b9;
const TWO_POW_32 = 4294967296;

/** A 32-bit finaliser (xor-shift-multiply) that spreads every input bit over the output. */
function avalanche(value: number): number {
  let z = value >>> 0;
  z = Math.imul(z ^ (z >>> 16), 0x85ebca6b);
  z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35);
  return (z ^ (z >>> 16)) >>> 0;
}

/** Folds one more 32-bit word into a running hash. */
function combine(hash: number, word: number): number {
  return avalanche((hash ^ avalanche(word + GOLDEN)) + Math.imul(hash, 5) + GOLDEN);
}

function checkSeed(name: string, value: number): void {
  if (!Number.isSafeInteger(value) || value < 0) throw new Error(`Random: ${name} must be a non-negative integer, got ${value}`);
}

/** Hashes non-negative integers (each up to 2^53) into one 32-bit state. */
function hashWords(words: number[]): number {
  let hash = 0x2545f491;
  for (const word of words) {
    hash = combine(hash, word >>> 0);
    hash = combine(hash, Math.floor(word / TWO_POW_32));
  }
  return hash;
}

// Domain tags keep the shuffle stream and the per-sample streams apart.
const SHUFFLE_STREAM = 1;
const SAMPLE_STREAM = 2;

/**
 * A Weyl sequence passed through a finaliser: 32-bit state, period 2^32, fast and
 * statistically sound for augmentation (not for cryptography).
 */
export class Random {
  #state: number;

  constructor(seed: number) {
    checkSeed('seed', seed);
    this.#state = hashWords([seed]);
  }

  /** The stream that shuffles epoch `epoch`; depends only on (seed, epoch). */
  static forEpoch(seed: number, epoch: number): Random {
    checkSeed('seed', seed);
    checkSeed('epoch', epoch);
    return Random.fromState(hashWords([SHUFFLE_STREAM, seed, epoch]));
  }

  /** The stream that augments dataset sample `index` in epoch `epoch`. */
  static forSample(seed: number, epoch: number, index: number): Random {
    checkSeed('seed', seed);
    checkSeed('epoch', epoch);
    checkSeed('index', index);
    return Random.fromState(hashWords([SAMPLE_STREAM, seed, epoch, index]));
  }

  private static fromState(state: number): Random {
    const random = new Random(0);
    random.#state = state;
    return random;
  }

  /** A uniform 32-bit unsigned integer. */
  nextUint32(): number {
    this.#state = (this.#state + GOLDEN) >>> 0;
    return avalanche(this.#state);
  }

  /** A uniform number in [0, 1). */
  next(): number {
    return this.nextUint32() / TWO_POW_32;
  }

  /** A uniform integer in [0, n), without modulo bias. */
  int(n: number): number {
    if (!Number.isInteger(n) || n <= 0 || n > TWO_POW_32) throw new Error(`Random.int: n must be an integer in [1, 2^32], got ${n}`);
    // Reject the top sliver of the 32-bit range that would favour small values.
    const limit = TWO_POW_32 - (TWO_POW_32 % n);
    let draw = this.nextUint32();
    while (draw >= limit) draw = this.nextUint32();
    return draw % n;
  }

  /** A uniform number in [low, high). */
  uniform(low: number, high: number): number {
    return low + (high - low) * this.next();
  }

  /** A standard normal draw (Box-Muller; one pair of uniforms per draw). */
  normal(): number {
    const u = 1 - this.next(); // (0, 1], so the logarithm is finite
    return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * this.next());
  }

  /** A Gamma(shape, 1) draw (Marsaglia and Tsang; shapes below 1 by the u^(1/shape) boost). */
  gamma(shape: number): number {
    if (!(shape > 0)) throw new Error(`Random.gamma: shape must be positive, got ${shape}`);
    if (shape < 1) return this.gamma(shape + 1) * (1 - this.next()) ** (1 / shape);
    const d = shape - 1 / 3;
    const c = 1 / Math.sqrt(9 * d);
    for (;;) {
      let x: number;
      let v: number;
      do {
        x = this.normal();
        v = 1 + c * x;
      } while (v <= 0);
      v = v * v * v;
      const u = 1 - this.next();
      if (Math.log(u) < 0.5 * x * x + d - d * v + d * Math.log(v)) return d * v;
    }
  }

  /** A Beta(a, b) draw, as numpy's beta: the ratio of two gamma draws. */
  beta(a: number, b: number): number {
    const x = this.gamma(a);
    const y = this.gamma(b);
    return x / (x + y);
  }

  /** Shuffles `array` in place (Fisher-Yates) and returns it. */
  shuffle<T>(array: T[]): T[] {
    for (let i = array.length - 1; i > 0; i--) {
      const j = this.int(i + 1);
      const swap = array[i];
      array[i] = array[j];
      array[j] = swap;
    }
    return array;
  }
}
