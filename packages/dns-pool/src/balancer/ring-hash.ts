import { type ContextKey, createContextKey } from "@connectrpc/connect";
import { ConnectivityState } from "../core/connectivity.js";
import { describeValue, invalidArgument } from "../core/errors.js";
import { sameEndpoints } from "./endpoint-helpers.js";
import { EMPTY_PICKER, type Picker, type PickInfo } from "./picker.js";
import type { EndpointInfo, LoadBalancingPolicy } from "./policy.js";
import { xxhash64String } from "./xxhash64.js";

/**
 * The `ring_hash` policy's settings, given as the pool's `policyConfig`
 * option (`{ policy: "ring_hash", policyConfig: { requestHashHeader: "x-user" } }`).
 * Ring sizes as gRPC's `RingHashLoadBalancingConfig` (gRFC A42), the
 * header as gRFC A76, the balance factor as HAProxy's `hash-balance-factor`.
 */
export interface RingHashConfig {
  /**
   * Entries (points on the ring) per endpoint, the same whatever the
   * number of endpoints, as HAProxy places servers: an endpoint that joins
   * or leaves moves only its own keys (1/n of them). More entries: shares
   * closer to equal, a slower rebuild when endpoints change. An integer
   * from 1 to 65536. Default 256.
   */
  entriesPerEndpoint?: number;
  /**
   * gRFC A42's rule, when set: each endpoint gets at least
   * ⌈minRingSize / n⌉ entries. With `entriesPerEndpoint: 1` the ring is
   * then gRPC's and Envoy's (the same key reaches the same address as a
   * grpc-go client), but every change in the number of endpoints resizes
   * every endpoint's share of entries and moves more keys (about 14 %
   * instead of 10 % when a tenth endpoint joins). An integer from 1 to
   * 8388608. Default: none.
   */
  minRingSize?: number;
  /**
   * The ring has at most this many entries: beyond maxRingSize / n
   * endpoints each gets ⌊maxRingSize / n⌋ (at least 1). An integer from 1
   * to 8388608, at least `minRingSize`. Default 16384 (64 endpoints at the
   * default 256 each).
   */
  maxRingSize?: number;
  /**
   * The request header whose value is a call's hash key (gRFC A76), e.g.
   * "x-user-id"; case-insensitive; several values count as one, joined by
   * ", " as the Fetch API joins them. A call that sets the {@link hashKey}
   * context value uses that instead; a call with neither goes to a random
   * point of the ring. Not a binary header (`-bin`) nor a pseudo-header.
   * Default: none (the context value, else random).
   */
  requestHashHeader?: string;
  /**
   * Consistent hashing with bounded loads (Mirrokni, Thorup and
   * Zadimoghaddam, 2016): an endpoint takes a call only if its calls in
   * flight, this one included, stay within balanceFactor × the mean over
   * the READY endpoints (calls in flight on them + 1, over their number;
   * at least ⌊calls in flight / endpoints⌋ + 1, so that some endpoint
   * always fits); a call whose endpoint is full walks on along the ring to
   * the next one that is not. A hot key then spills
   * over to the keys' next endpoints instead of overloading one. A number
   * >= 1 (1: perfectly even, no stickiness under load; 1.25 is a common
   * choice, HAProxy's `hash-balance-factor 125`). Default: off (plain ring
   * hash, as gRPC's).
   */
  balanceFactor?: number;
}

/** {@link RingHashConfig} with defaults filled in (`minRingSize` 0 and `balanceFactor` undefined: off). */
export interface ResolvedRingHash {
  readonly entriesPerEndpoint: number;
  readonly minRingSize: number;
  readonly maxRingSize: number;
  /** Lower-case, or undefined for none. */
  readonly requestHashHeader: string | undefined;
  readonly balanceFactor: number | undefined;
}

/** The defaults: 256 entries per endpoint, at most 16384 in all, no header, no load bound. */
export const RING_HASH_DEFAULTS: ResolvedRingHash = {
  entriesPerEndpoint: 256,
  minRingSize: 0,
  maxRingSize: 16_384,
  requestHashHeader: undefined,
  balanceFactor: undefined,
};

/** A42's upper limit of both ring sizes. */
const RING_SIZE_LIMIT = 8_388_608;

/**
 * A call's hash key for `ring_hash`, set per call through connect's
 * `contextValues` call option:
 * `client.get(req, { contextValues: createContextValues().set(hashKey, "user-42") })`.
 * Takes precedence over the `requestHashHeader`; calls with the same key go
 * to the same endpoint while the endpoints stay the same. Default
 * undefined (no key).
 */
export const hashKey: ContextKey<string | undefined> = createContextKey<string | undefined>(undefined, {
  description: "ring_hash request hash key",
});

const HEADER_NAME = /^[!#$%&'*+.^_`|~0-9a-z-]+$/;

/**
 * Checks `ring_hash`'s `policyConfig` and fills in its defaults.
 * @throws ConnectError with Code.InvalidArgument naming the field and what it takes.
 */
export function resolveRingHashConfig(config: unknown): ResolvedRingHash {
  if (config === undefined || config === null) return RING_HASH_DEFAULTS;
  const fields = ["entriesPerEndpoint", "minRingSize", "maxRingSize", "requestHashHeader", "balanceFactor"];
  if (typeof config !== "object" || Array.isArray(config)) {
    throw invalidArgument(
      `options.policyConfig for ring_hash must be an object with ${fields.join(", ")} (all optional), got ${describeValue(config)}`,
    );
  }
  for (const key of Object.keys(config)) {
    if (!fields.includes(key)) {
      throw invalidArgument(
        `options.policyConfig.${key} is not a ring_hash setting; it takes ${fields.join(", ")}`,
      );
    }
  }
  const c = config as RingHashConfig;
  const size = (
    name: "entriesPerEndpoint" | "minRingSize" | "maxRingSize",
    limit = RING_SIZE_LIMIT,
  ): number => {
    const v = c[name];
    if (v === undefined) return RING_HASH_DEFAULTS[name];
    if (typeof v !== "number" || !Number.isInteger(v) || v < 1 || v > limit) {
      throw invalidArgument(
        `options.policyConfig.${name} must be an integer from 1 to ${limit}, got ${describeValue(v)}`,
      );
    }
    return v;
  };
  const entriesPerEndpoint = size("entriesPerEndpoint", 65_536);
  const minRingSize = size("minRingSize");
  // An explicit minimum above the default maximum raises the maximum with it, as a lone bound would be read.
  const maxRingSize =
    c.maxRingSize === undefined ? Math.max(RING_HASH_DEFAULTS.maxRingSize, minRingSize) : size("maxRingSize");
  if (minRingSize > maxRingSize) {
    throw invalidArgument(
      `options.policyConfig.minRingSize (${minRingSize}) must not exceed maxRingSize (${maxRingSize})`,
    );
  }
  let header: string | undefined;
  if (c.requestHashHeader !== undefined) {
    const h = c.requestHashHeader;
    if (typeof h !== "string" || !HEADER_NAME.test(h.toLowerCase())) {
      throw invalidArgument(
        `options.policyConfig.requestHashHeader must be a header name such as "x-user-id", got ${describeValue(h)}`,
      );
    }
    header = h.toLowerCase();
    if (header.endsWith("-bin")) {
      throw invalidArgument(
        `options.policyConfig.requestHashHeader must not be a binary header (ending in -bin), got "${h}" (gRFC A76)`,
      );
    }
  }
  const f = c.balanceFactor;
  if (f !== undefined && (typeof f !== "number" || !Number.isFinite(f) || f < 1)) {
    throw invalidArgument(
      `options.policyConfig.balanceFactor must be a number >= 1 (e.g. 1.25: no endpoint above 125 % of the mean load), got ${describeValue(f)}`,
    );
  }
  return { entriesPerEndpoint, minRingSize, maxRingSize, requestHashHeader: header, balanceFactor: f };
}

/** The ring: entry i sits at `hashes[i]` (ascending) and belongs to endpoint `owners[i]`. */
export interface Ring {
  readonly hashes: BigUint64Array;
  /** Index into the endpoints the ring was built from. */
  readonly owners: Uint32Array;
}

/**
 * Entries per endpoint for `n` endpoints: `entriesPerEndpoint`, at least
 * ⌈minRingSize / n⌉ (A42), at most ⌊maxRingSize / n⌋, at least 1. A
 * function of `n` only, so that every client builds the same ring from the
 * same addresses.
 */
export function entriesFor(n: number, config: ResolvedRingHash): number {
  const wanted = Math.max(config.entriesPerEndpoint, Math.ceil(config.minRingSize / n));
  return Math.max(1, Math.min(wanted, Math.floor(config.maxRingSize / n)));
}

/**
 * The ring over equally weighted endpoints: endpoint a's entry k sits at
 * XXH64("<a>_<k>") for k < `perEndpoint`, as in Envoy and gRPC (gRFC A42),
 * the entries sorted by hash. An entry's place depends on its address
 * alone, so an endpoint that joins or leaves moves only the keys of its
 * own entries.
 */
export function buildRing(addresses: readonly string[], perEndpoint: number): Ring {
  const entries: { hash: bigint; owner: number }[] = [];
  addresses.forEach((address, owner) => {
    for (let k = 0; k < perEndpoint; k++) entries.push({ hash: xxhash64String(`${address}_${k}`), owner });
  });
  // Ties (never seen with 64-bit hashes) go to the lower address, so every client orders them alike.
  entries.sort((a, b) =>
    a.hash < b.hash ? -1 : a.hash > b.hash ? 1 : compare(addresses[a.owner], addresses[b.owner]),
  );
  return {
    hashes: BigUint64Array.from(entries, (e) => e.hash),
    owners: Uint32Array.from(entries, (e) => e.owner),
  };
}

function compare(a: string | undefined, b: string | undefined): number {
  return (a as string) < (b as string) ? -1 : (a as string) > (b as string) ? 1 : 0;
}

/** The first entry at or after `hash`, wrapping to 0 past the last one. */
export function ringIndex(hashes: BigUint64Array, hash: bigint): number {
  let lo = 0;
  let hi = hashes.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if ((hashes[mid] as bigint) < hash) lo = mid + 1;
    else hi = mid;
  }
  return lo === hashes.length ? 0 : lo;
}

// How a picker treats an endpoint of the ring:
/** READY and trusted: pickable by any call. */
const READY = 0;
/**
 * READY but doubted by liveness (no frame for a while; the pool's other
 * policies pass it over while some READY endpoint is not doubted): keyed
 * calls still go there, as moving a key on a doubt costs its locality and
 * doubts come and go under load; calls without a key avoid it.
 */
const DOUBTED = 1;
/** Connecting for the first time or again after a READY spell: a keyed call waits for it. */
const WAIT = 2;
/** Failing (since its last READY spell), ejected or unhealthy: skipped. */
const SKIP = 3;

/**
 * `ring_hash` (gRFC A42, configured as A76, without xDS): endpoints on a
 * hash ring by address, a fixed number of entries each (see
 * {@link RingHashConfig.entriesPerEndpoint}); a call's key (the {@link hashKey} context value,
 * else the `requestHashHeader`) is hashed with XXH64 and the call goes to
 * the first entry at or after its hash, so the same key reaches the same
 * endpoint, and a change of endpoints moves only the keys of the entries
 * that changed (about 1/n of them per endpoint added or removed). Walking
 * on from there (A42), endpoints that fail are skipped (sticky until they
 * are READY again, as A42's TRANSIENT_FAILURE) and a call waits for one
 * that is connecting. A call without a key goes to a random entry. With
 * `balanceFactor`, the walk also skips endpoints whose calls in flight
 * would exceed the bound (consistent hashing with bounded loads).
 *
 * Unlike gRPC's, it connects to every endpoint up front (the pool's
 * default), so a key's first call does not wait for a handshake. An
 * endpoint that liveness doubts keeps its keys (calls without a key avoid
 * it) until its connection is actually closed.
 */
export class RingHashPolicy<E extends EndpointInfo> implements LoadBalancingPolicy<E> {
  /** "ring_hash" */
  readonly name = "ring_hash";
  private ring: Ring | undefined;
  private ringOf: readonly E[] = [];
  /** Endpoints that failed to connect and have not been READY since (A42's sticky TRANSIENT_FAILURE). */
  private readonly failing = new WeakSet<E>();
  /** Recent keys' hashes, shared by the successive pickers (see {@link KeyHashes}). */
  private readonly hashes = new KeyHashes();

  /** @param config - defaults filled in (see {@link resolveRingHashConfig}). */
  constructor(private readonly config: ResolvedRingHash = RING_HASH_DEFAULTS) {}

  /** A picker over the ring of every endpoint, with their current states. */
  buildPicker(ready: readonly E[], all: readonly E[]): Picker<E> {
    for (const e of all) {
      if (e.state === ConnectivityState.READY) this.failing.delete(e);
      else if (e.state === ConnectivityState.TRANSIENT_FAILURE) this.failing.add(e);
    }
    if (ready.length === 0) return EMPTY_PICKER;
    if (!this.ring || !sameEndpoints(this.ringOf, all)) {
      this.ring = buildRing(
        all.map((e) => e.address),
        entriesFor(all.length, this.config),
      );
      // A copy: a caller that reuses its array must not make the ring look current.
      this.ringOf = [...all];
    }
    const pickable = new Set(ready);
    const status = Uint8Array.from(all, (e) => {
      if (pickable.has(e)) return READY;
      if (e.state === ConnectivityState.READY) return DOUBTED;
      if (this.failing.has(e)) return SKIP;
      return e.state === ConnectivityState.CONNECTING || e.state === ConnectivityState.IDLE ? WAIT : SKIP;
    });
    return new RingHashPicker(
      all,
      status,
      all.filter((e) => e.state === ConnectivityState.READY),
      this.ring,
      this.config,
      this.hashes,
    );
  }
}

/**
 * XXH64 of recent keys: BigInt hashing costs about 1 µs a short key (see
 * xxhash64.ts), and
 * key mixes are usually skewed (the same users, the same hot keys), so a
 * small map saves it on most calls. Cleared when full, which costs one
 * rehash of each key still in use.
 */
export class KeyHashes {
  private readonly map = new Map<string, bigint>();

  /** @param limit - keys kept before the map is cleared. Default 4096. */
  constructor(private readonly limit = 4096) {}

  /** XXH64 of `key`. */
  of(key: string): bigint {
    let h = this.map.get(key);
    if (h === undefined) {
      h = xxhash64String(key);
      if (this.map.size >= this.limit) this.map.clear();
      this.map.set(key, h);
    }
    return h;
  }
}

/** Picks on the ring by the call's key; see {@link RingHashPolicy}. */
export class RingHashPicker<E extends EndpointInfo> implements Picker<E> {
  /**
   * @param endpoints - the ring's endpoints (its owners index into them).
   * @param status - theirs, index for index: 0 READY, 1 READY but doubted by liveness, 2 connecting (a keyed call waits), 3 skipped.
   * @param ready - the READY ones, doubted or not, not empty (for the load bound).
   * @param ring - built from `endpoints`' addresses.
   * @param config - the header and the balance factor.
   * @param hashes - the keys' hashes. Default: a cache of its own.
   */
  constructor(
    private readonly endpoints: readonly E[],
    private readonly status: Uint8Array,
    private readonly ready: readonly E[],
    private readonly ring: Ring,
    private readonly config: ResolvedRingHash,
    private readonly hashes = new KeyHashes(),
  ) {}

  /** The endpoint for the call's key; undefined when the call must wait for one that is connecting. */
  pick(info?: PickInfo): E | undefined {
    const key = keyOf(info, this.config.requestHashHeader);
    const { hashes, owners } = this.ring;
    const size = hashes.length;
    const start =
      key === undefined ? Math.floor(Math.random() * size) : ringIndex(hashes, this.hashes.of(key));
    const cap = this.capacity();
    let passedOver = false;
    for (let step = 0; step < size; step++) {
      const owner = owners[(start + step) % size] as number;
      const s = this.status[owner];
      if (s === READY || (s === DOUBTED && key !== undefined)) {
        const e = this.endpoints[owner] as E;
        if (e.inFlight + 1 <= cap) return e;
        passedOver = true;
      } else if (s === WAIT && key !== undefined && !passedOver) {
        // The key's endpoint is connecting: wait for it rather than move the key (A42).
        return undefined;
      }
    }
    return undefined;
  }

  /**
   * The most calls in flight an endpoint may have once it takes the call;
   * Infinity without a load bound. c × the mean after the call, as
   * Mirrokni et al. bound it (without their rounding up, which lets an
   * endpoint reach ⌈c × mean⌉, 1.29× the mean at 20 calls per endpoint
   * with c = 1.25), but never below ⌊total / n⌋ + 1, which the least
   * loaded endpoint always fits: at low loads c × mean is below one call.
   */
  private capacity(): number {
    const c = this.config.balanceFactor;
    if (c === undefined) return Number.POSITIVE_INFINITY;
    let total = 0;
    for (const e of this.ready) total += e.inFlight;
    const n = this.ready.length;
    return Math.max((c * (total + 1)) / n, Math.floor(total / n) + 1);
  }
}

/** The call's hash key: the {@link hashKey} context value, else the header's value, else undefined. */
export function keyOf(info: PickInfo | undefined, header: string | undefined): string | undefined {
  if (info === undefined) return undefined;
  const fromContext = info.contextValues?.get(hashKey);
  if (fromContext !== undefined) return fromContext;
  if (header === undefined) return undefined;
  return headerValue(info.header, header);
}

/** The value of `name` (lower-case) in request headers given in any HeadersInit form; several joined by ", ". */
export function headerValue(init: PickInfo["header"], name: string): string | undefined {
  if (init === undefined) return undefined;
  if (init instanceof Headers) return init.get(name) ?? undefined;
  const values: string[] = [];
  if (Array.isArray(init)) {
    for (const [k, v] of init as [string, string][]) if (k.toLowerCase() === name) values.push(v);
  } else {
    for (const k in init)
      if (k.toLowerCase() === name) values.push((init as Record<string, string>)[k] as string);
  }
  return values.length === 0 ? undefined : values.join(", ");
}
