/**
 * Stable, fast, non-cryptographic hashing for subsetting: FNV-1a 64 over the
 * UTF-8 bytes of a string, followed by MurmurHash3's 64-bit finalizer
 * (`fmix64`). FNV-1a alone mixes its last bytes poorly into the high bits,
 * and endpoints ("10.244.1.17:8081") differ mostly in their last bytes, so
 * the finalizer is what makes ranks and positions uniform.
 *
 * Everything is computed on two unsigned 32-bit halves with plain Number
 * arithmetic (no BigInt: a simulation hashes millions of strings). The values
 * are identical on every platform and Node version, which the subsetters
 * depend on: every client must compute the same thing.
 *
 * @module
 */

/** An unsigned 64-bit value as two unsigned 32-bit halves. */
export interface U64 {
  /** Bits 63..32. */
  readonly hi: number;
  /** Bits 31..0. */
  readonly lo: number;
}

const TWO_32 = 0x1_0000_0000;

/**
 * The low 64 bits of `a * b`. The 32x32-bit partial products are split in
 * 16-bit pieces so every intermediate stays an exact integer below 2^53.
 */
function mul64(aHi: number, aLo: number, bHi: number, bLo: number): U64 {
  const a0 = aLo & 0xffff;
  const a1 = aLo >>> 16;
  const b0 = bLo & 0xffff;
  const b1 = bLo >>> 16;
  const mid = a0 * b1 + a1 * b0; // < 2^33
  const low = a0 * b0 + (mid % 0x10000) * 0x10000; // < 2^33
  const carry = Math.floor(low / TWO_32) + Math.floor(mid / 0x10000) + a1 * b1;
  const hi = (carry + Math.imul(aHi, bLo) + Math.imul(aLo, bHi)) >>> 0;
  return { hi, lo: low >>> 0 };
}

const utf8 = new TextEncoder();

/**
 * FNV-1a, 64-bit variant, over the UTF-8 bytes of `text` (offset basis
 * 0xcbf29ce484222325, prime 0x100000001b3 = 2^40 + 0x1b3).
 */
export function fnv1a64(text: string): U64 {
  let hi = 0xcbf29ce4;
  let lo = 0x84222325;
  const step = (byte: number): void => {
    lo = (lo ^ byte) >>> 0;
    // h * (2^40 + 0x1b3) mod 2^64: the 2^40 term moves lo's low 24 bits into hi.
    const l = lo * 0x1b3; // < 2^41, exact
    const h = hi * 0x1b3 + Math.floor(l / TWO_32) + ((lo << 8) >>> 0);
    lo = l >>> 0;
    hi = h >>> 0;
  };
  let ascii = true;
  for (let i = 0; i < text.length; i++) {
    if (text.charCodeAt(i) > 0x7f) {
      ascii = false;
      break;
    }
  }
  if (ascii) {
    for (let i = 0; i < text.length; i++) step(text.charCodeAt(i));
  } else {
    for (const byte of utf8.encode(text)) step(byte);
  }
  return { hi, lo };
}

/** MurmurHash3's 64-bit finalizer: a bijection on 64 bits with full avalanche. */
export function fmix64(x: U64): U64 {
  let { hi, lo } = x;
  // x ^= x >>> 33
  lo = (lo ^ (hi >>> 1)) >>> 0;
  ({ hi, lo } = mul64(hi, lo, 0xff51afd7, 0xed558ccd));
  lo = (lo ^ (hi >>> 1)) >>> 0;
  ({ hi, lo } = mul64(hi, lo, 0xc4ceb9fe, 0x1a85ec53));
  lo = (lo ^ (hi >>> 1)) >>> 0;
  return { hi, lo };
}

/** The stable 64-bit hash of a string used by every subsetter: `fmix64(fnv1a64(text))`. */
export function hash64(text: string): U64 {
  return fmix64(fnv1a64(text));
}

const memo = new Map<string, U64>();
const MEMO_LIMIT = 16_384;

/**
 * {@link hash64} through a bounded memo (cleared when full), for endpoint
 * strings, which every `select` call hashes again. Same values as `hash64`.
 */
export function memoHash64(text: string): U64 {
  let h = memo.get(text);
  if (h === undefined) {
    if (memo.size >= MEMO_LIMIT) memo.clear();
    h = hash64(text);
    memo.set(text, h);
  }
  return h;
}

/** Combines two hashes into a third that depends on both: `fmix64(a XOR b)`. */
export function combine64(a: U64, b: U64): U64 {
  return fmix64({ hi: (a.hi ^ b.hi) >>> 0, lo: (a.lo ^ b.lo) >>> 0 });
}

/**
 * The top 53 bits of a hash as a non-negative safe integer, for ordering
 * (Numbers compare exactly up to 2^53).
 */
export function top53(x: U64): number {
  return x.hi * 0x20_0000 + (x.lo >>> 11);
}

/** The top 53 bits of a hash as a uniform number in [0, 1). */
export function toUnitInterval(x: U64): number {
  return top53(x) / 2 ** 53;
}

/**
 * A deterministic pseudo-random generator of numbers in [0, 1): Chris
 * Doty-Humphrey's SFC32 (small fast counting generator) seeded from a 64-bit
 * hash and warmed up. Used for the shuffles of deterministic and random
 * subsetting, which must be reproducible from a seed on every client.
 */
export function seededRandom(seed: U64): () => number {
  let a = seed.hi >>> 0;
  let b = seed.lo >>> 0;
  let c = (seed.hi ^ 0x9e3779b9) >>> 0;
  let d = 1;
  const next = (): number => {
    const t = (((a + b) >>> 0) + d) >>> 0;
    d = (d + 1) >>> 0;
    a = (b ^ (b >>> 9)) >>> 0;
    b = (c + (c << 3)) >>> 0;
    c = ((c << 21) | (c >>> 11)) >>> 0;
    c = (c + t) >>> 0;
    return t;
  };
  for (let i = 0; i < 15; i++) next();
  return () => next() / TWO_32;
}
