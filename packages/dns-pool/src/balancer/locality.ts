import type { Clock } from "../core/clock.js";
import { describeValue, invalidArgument } from "../core/errors.js";
import { readOrcaReport, reportedUtilization } from "./orca.js";
import { type CallResult, EMPTY_PICKER, type Picker, type PickInfo } from "./picker.js";
import type { EndpointInfo, LoadBalancingPolicy } from "./policy.js";

/**
 * Zone-aware routing (pool option `locality`): calls stay in the client's
 * zone while it can carry them, and spill over to other zones in
 * proportion to what it lacks, as Envoy's zone-aware routing does.
 */
export interface LocalityOptions {
  /**
   * The client's own zone. Default: the environment variable `RNG_ZONE`,
   * else `POD_ZONE`; else the zone of an endpoint that runs on the
   * client's node (`nodeName`, default env `NODE_NAME`); else the zone the
   * `kubernetes:` resolver reads from the client's Node. While the zone is
   * unknown the layer passes every call to the policy as if it were off.
   */
  zone?: string;
  /**
   * The client's node name, to learn the zone from the endpoints (an
   * endpoint on the same node is in the same zone). Default: env `NODE_NAME`.
   */
  nodeName?: string;
  /**
   * With fewer READY local endpoints than this, the local zone counts as
   * empty and every call goes to other zones. Default 1 (spill all only
   * when none is left; fewer than usual spill in proportion anyway).
   */
  minLocalEndpoints?: number;
  /**
   * An endpoint whose last ORCA report (`endpoint-load-metrics-bin`,
   * `application_utilization`, else `cpu_utilization`) is above this
   * counts as less than a whole endpoint of capacity: (1 - u) / (1 - this),
   * down to 0 at u = 1. So a zone whose pods run hot keeps a smaller share
   * and spills the rest. In (0, 1]; 1 ignores reports. Default 0.8.
   */
  utilizationThreshold?: number;
  /** A report older than this no longer counts (its endpoint is whole again). Default 10000 ms. */
  reportMaxAgeMs?: number;
  /**
   * How the clients' calls are spread over zones, e.g. `{ a: 2, b: 1, c: 1 }`
   * (any scale). A zone keeps all its own calls while its share of the
   * endpoints' capacity is at least its share here; below that it keeps
   * capacity share / client share of them (Envoy's rule). Zones not named
   * count 0. Default: as many clients in every zone that has endpoints.
   */
  zoneShares?: Readonly<Record<string, number>>;
  /**
   * Use EndpointSlice topology hints (`hints.forZones`, written by
   * Kubernetes for `trafficDistribution: PreferSameZone`/`PreferClose` and
   * topology-aware routing): when every READY endpoint has hints and some
   * are for the client's zone, the "local" endpoints are those hinted for
   * it rather than those in it, as kube-proxy does. Default true.
   */
  hints?: boolean;
  /** How often the zones' weights are recomputed from the latest reports. Default 1000 ms. */
  updatePeriodMs?: number;
}

/** {@link LocalityOptions} with every default filled in; `zone` and `nodeName` may stay unknown. */
export interface ResolvedLocality {
  readonly zone: string | undefined;
  readonly nodeName: string | undefined;
  readonly minLocalEndpoints: number;
  readonly utilizationThreshold: number;
  readonly reportMaxAgeMs: number;
  readonly zoneShares: Readonly<Record<string, number>> | undefined;
  readonly hints: boolean;
  readonly updatePeriodMs: number;
}

/** The defaults of {@link LocalityOptions} (zone and node from the environment, see there). */
export const LOCALITY_DEFAULTS = {
  minLocalEndpoints: 1,
  utilizationThreshold: 0.8,
  reportMaxAgeMs: 10_000,
  hints: true,
  updatePeriodMs: 1000,
} as const;

/**
 * The options with their defaults; the zone and node name come from `env`
 * when not given (`RNG_ZONE`, then `POD_ZONE`; `NODE_NAME`).
 */
export function resolveLocality(
  options: LocalityOptions,
  env: Readonly<Record<string, string | undefined>> = process.env,
): ResolvedLocality {
  const check = (name: string, value: number | undefined, ok: (v: number) => boolean, what: string) => {
    if (value !== undefined && !(typeof value === "number" && ok(value))) {
      throw invalidArgument(`options.locality.${name} must be ${what}, got ${describeValue(value)}`);
    }
  };
  check(
    "minLocalEndpoints",
    options.minLocalEndpoints,
    (v) => Number.isInteger(v) && v >= 0,
    "an integer >= 0",
  );
  check("utilizationThreshold", options.utilizationThreshold, (v) => v > 0 && v <= 1, "a number in (0, 1]");
  check("reportMaxAgeMs", options.reportMaxAgeMs, (v) => v > 0 && Number.isFinite(v), "a number of ms > 0");
  check(
    "updatePeriodMs",
    options.updatePeriodMs,
    (v) => v >= 10 && Number.isFinite(v),
    "a number of ms >= 10",
  );
  if (options.zone !== undefined && (typeof options.zone !== "string" || options.zone === "")) {
    throw invalidArgument(
      `options.locality.zone must be a non-empty zone name (e.g. "us-east-1a"), got ${describeValue(options.zone)}; leave it out to read RNG_ZONE`,
    );
  }
  for (const [zone, share] of Object.entries(options.zoneShares ?? {})) {
    check(`zoneShares["${zone}"]`, share, (v) => v >= 0 && Number.isFinite(v), "a number >= 0");
  }
  return {
    zone: options.zone || env.RNG_ZONE || env.POD_ZONE || undefined,
    nodeName: options.nodeName || env.NODE_NAME || undefined,
    minLocalEndpoints: options.minLocalEndpoints ?? LOCALITY_DEFAULTS.minLocalEndpoints,
    utilizationThreshold: options.utilizationThreshold ?? LOCALITY_DEFAULTS.utilizationThreshold,
    reportMaxAgeMs: options.reportMaxAgeMs ?? LOCALITY_DEFAULTS.reportMaxAgeMs,
    zoneShares: options.zoneShares,
    hints: options.hints ?? LOCALITY_DEFAULTS.hints,
    updatePeriodMs: options.updatePeriodMs ?? LOCALITY_DEFAULTS.updatePeriodMs,
  };
}

/** The key of the client's own group (a zone name cannot be empty, so "" is free for unknown zones). */
const LOCAL = "\0local";

/** One group of endpoints (the local ones, or one other zone) with its own instance of the policy. */
interface Group<E> {
  readonly key: string;
  /** The zone whose client share it carries (the client's zone for the local group). */
  readonly zone: string;
  readonly ready: E[];
  readonly all: E[];
}

/**
 * The locality layer: wraps any policy (one instance per zone group, made
 * by `child`) and chooses a group for each call by weight, then lets that
 * group's policy choose the endpoint.
 *
 * The weights follow Envoy's zone-aware routing. Let `p` be a zone's share
 * of the READY endpoints' capacity (an endpoint counts 1, less when its
 * ORCA utilization is above the threshold) and `s` its share of the
 * clients (`zoneShares`, default even). When the local zone's p >= s,
 * every call stays local. Otherwise the local zone keeps p / s of the
 * calls and the rest goes to the other zones in proportion to their spare
 * capacity p - s (to all by p when none has spare). So when every zone's
 * clients do the same, each pod carries the same load whatever a zone lost.
 *
 * A pod that is terminating but still serving (`attributes.terminating`)
 * gets calls only while no other endpoint is READY, in any zone.
 */
export class LocalityPolicy<E extends EndpointInfo> implements LoadBalancingPolicy<E> {
  /** The wrapped policy's name. */
  readonly name: string;
  /** The wrapped policy's request headers. */
  readonly requestHeaders: Readonly<Record<string, string>> | undefined;
  /** As the wrapped policy: whether endpoints it stops wanting are disconnected. */
  readonly releaseUnwanted: boolean | undefined;
  /** As the wrapped policy: whether the pool's TRANSIENT_FAILURE is sticky. */
  readonly stickyTransientFailure: boolean | undefined;
  /** The pool's rebuild, for wrapped policies whose wishes change with time (given to every group's instance). */
  private update: (() => void) | undefined;
  private readonly children = new Map<string, LoadBalancingPolicy<E>>();
  private readonly loads = new WeakMap<E, { utilization: number; at: number }>();
  /** The zone learned from the resolver or from a co-located endpoint, when not configured. */
  private learnedZone: string | undefined;
  /** The picker in use, while the layer routes by zone and something is READY. */
  private current: LocalityPicker<E> | undefined;
  private attempts = { local: 0, otherZones: 0 };

  /**
   * @param child - makes one instance of the wrapped policy (one per group).
   * @param options - defaults filled in.
   * @param clock - the pool's clock (report ages, weight updates).
   */
  constructor(
    private readonly child: () => LoadBalancingPolicy<E>,
    private readonly options: ResolvedLocality,
    private readonly clock: Clock,
  ) {
    const first = child();
    this.name = first.name;
    this.requestHeaders = first.requestHeaders;
    this.releaseUnwanted = first.releaseUnwanted;
    this.stickyTransientFailure = first.stickyTransientFailure;
    this.children.set(LOCAL, first);
  }

  /** Hands the pool's rebuild to every group's instance of the wrapped policy, now and later. */
  attach(update: () => void): void {
    this.update = update;
    for (const c of this.children.values()) c.attach?.(update);
  }

  /** The client's zone as the layer uses it now; undefined while unknown (the layer is then off). */
  get zone(): string | undefined {
    return this.options.zone ?? this.learnedZone;
  }

  /** The zone of the client's node, as a resolver found it; a configured zone wins. */
  onClientZone(zone: string): void {
    this.learnedZone = zone;
  }

  /**
   * Attempts routed so far (counted as they end, by the picker that chose
   * them: local or another zone), and the share of calls the current
   * picker keeps in the client's zone (undefined while the zone is unknown
   * or nothing is READY). For the pool's metrics and stats.
   */
  counts(): { local: number; otherZones: number; localShare: number | undefined } {
    return { ...this.attempts, localShare: this.current?.currentWeights().get("local") };
  }

  /** Counts one ended attempt (see {@link LocalityPolicy.counts}). */
  countAttempt(local: boolean): void {
    if (local) this.attempts.local++;
    else this.attempts.otherZones++;
  }

  /** What each group's policy wants connected. */
  wanted(endpoints: readonly E[]): readonly E[] {
    const groups = this.group(endpoints, endpoints);
    if (groups === undefined) return this.childFor(LOCAL).wanted?.(endpoints) ?? endpoints;
    const out: E[] = [];
    for (const g of groups.values()) {
      const w = this.childFor(g.key).wanted?.(g.all) ?? g.all;
      for (const e of w) out.push(e);
    }
    return out;
  }

  /** A picker choosing a zone group by weight, then an endpoint by the group's policy. */
  buildPicker(ready: readonly E[], all: readonly E[]): Picker<E> {
    // kube-proxy's rule, in any zone: draining pods only when nothing else is ready.
    const serving = ready.filter((e) => e.attributes?.terminating !== true);
    const usable = serving.length > 0 ? serving : ready;
    const groups = this.group(usable, all);
    this.current = undefined;
    if (groups === undefined) return this.childFor(LOCAL).buildPicker(usable, all);
    for (const key of this.children.keys()) if (key !== LOCAL && !groups.has(key)) this.children.delete(key);
    const built: BuiltGroup<E>[] = [];
    for (const g of groups.values()) {
      const picker = this.childFor(g.key).buildPicker(g.ready, g.all);
      built.push({ group: g, picker });
    }
    if (usable.length === 0) return EMPTY_PICKER;
    this.current = new LocalityPicker(built, this, this.clock, this.options.updatePeriodMs);
    return this.current;
  }

  /** Takes a call's ORCA report (if any) for the endpoint's capacity. */
  record(endpoint: E, result: CallResult): void {
    if (this.options.utilizationThreshold >= 1 || result.trailers === undefined) return;
    const report = readOrcaReport(result.trailers);
    if (report) this.loads.set(endpoint, { utilization: reportedUtilization(report), at: this.clock.now() });
  }

  /** How much of one endpoint's capacity it offers now: 1, less when its fresh report is above the threshold. */
  capacityOf(endpoint: E, now: number): number {
    const t = this.options.utilizationThreshold;
    if (t >= 1) return 1;
    const load = this.loads.get(endpoint);
    if (load === undefined || now - load.at > this.options.reportMaxAgeMs || load.utilization <= t) return 1;
    return Math.max(0, (1 - load.utilization) / (1 - t));
  }

  /**
   * Each group's share of the calls (index for index with `groups`),
   * Envoy's rule from the groups' capacities and the client shares.
   */
  weights(groups: readonly Group<E>[], now: number): number[] {
    const capacity = groups.map((g) =>
      g.key === LOCAL && g.ready.length < this.options.minLocalEndpoints
        ? 0
        : g.ready.reduce((sum, e) => sum + this.capacityOf(e, now), 0),
    );
    const total = capacity.reduce((a, b) => a + b, 0);
    // No capacity anywhere (every pod saturated): spread by endpoint count.
    if (total === 0) return groups.map((g) => g.ready.length);
    const p = capacity.map((c) => c / total);
    const shares = this.clientShares(groups);
    const local = groups.findIndex((g) => g.key === LOCAL);
    const pl = local < 0 ? 0 : (p[local] as number);
    const sl = local < 0 ? 0 : (shares[local] as number);
    if (local >= 0 && pl >= sl) return groups.map((_, i) => (i === local ? 1 : 0));
    const keep = local < 0 || sl === 0 ? 0 : pl / sl;
    const spare = groups.map((_, i) =>
      i === local ? 0 : Math.max(0, (p[i] as number) - (shares[i] as number)),
    );
    const spareSum = spare.reduce((a, b) => a + b, 0);
    const byCapacity = p.map((x, i) => (i === local ? 0 : x));
    const byCapacitySum = byCapacity.reduce((a, b) => a + b, 0);
    return groups.map((_, i) => {
      if (i === local) return keep;
      if (spareSum > 0) return ((1 - keep) * (spare[i] as number)) / spareSum;
      return byCapacitySum > 0 ? ((1 - keep) * (byCapacity[i] as number)) / byCapacitySum : 0;
    });
  }

  /** Each group's share of the clients, normalized over the groups (index for index). */
  private clientShares(groups: readonly Group<E>[]): number[] {
    const given = this.options.zoneShares;
    const raw = groups.map((g) => (given === undefined ? 1 : Math.max(0, given[g.zone] ?? 0)));
    const sum = raw.reduce((a, b) => a + b, 0);
    return raw.map((r) => (sum === 0 ? 0 : r / sum));
  }

  /**
   * The endpoints by group: the local one (by hints, else by zone) and one
   * per other zone (endpoints of unknown zone together). Undefined while
   * the client's zone is unknown.
   */
  private group(ready: readonly E[], all: readonly E[]): Map<string, Group<E>> | undefined {
    let zone = this.zone;
    if (zone === undefined && this.options.nodeName !== undefined) {
      const sameNode = all.find(
        (e) => e.attributes?.nodeName === this.options.nodeName && e.attributes?.zone,
      );
      if (sameNode) zone = this.learnedZone = sameNode.attributes?.zone;
    }
    if (zone === undefined) return undefined;
    const z = zone;
    const byHints =
      this.options.hints &&
      ready.length > 0 &&
      ready.every((e) => (e.attributes?.forZones?.length ?? 0) > 0) &&
      ready.some((e) => e.attributes?.forZones?.includes(z));
    const keyOf = (e: E): string => {
      const a = e.attributes;
      if (byHints ? a?.forZones?.includes(z) : a?.zone === z) return LOCAL;
      return a?.zone ?? "";
    };
    const groups = new Map<string, Group<E>>();
    // The local group always exists, even empty: its client share still counts.
    groups.set(LOCAL, { key: LOCAL, zone: z, ready: [], all: [] });
    const groupOf = (key: string, e: E): Group<E> => {
      let g = groups.get(key);
      if (!g) {
        g = { key, zone: e.attributes?.zone ?? "", ready: [], all: [] };
        groups.set(key, g);
      }
      return g;
    };
    for (const e of all) groupOf(keyOf(e), e).all.push(e);
    for (const e of ready) groupOf(keyOf(e), e).ready.push(e);
    return groups;
  }

  private childFor(key: string): LoadBalancingPolicy<E> {
    let c = this.children.get(key);
    if (!c) {
      c = this.child();
      if (this.update) c.attach?.(this.update);
      this.children.set(key, c);
    }
    return c;
  }
}

/** A group with its policy's picker. */
interface BuiltGroup<E extends EndpointInfo> {
  readonly group: Group<E>;
  readonly picker: Picker<E>;
}

/**
 * Chooses a group by weight (recomputed from the latest load reports every
 * update period, lazily on a pick), then the group's picker chooses the
 * endpoint; a group whose picker has nothing passes the call on.
 */
export class LocalityPicker<E extends EndpointInfo> implements Picker<E> {
  private cumulative: number[] = [];
  private nextUpdateAt = Number.NEGATIVE_INFINITY;
  private readonly pickerOf = new Map<E, Picker<E>>();
  private readonly local = new Set<E>();

  /**
   * @param groups - the groups with their pickers.
   * @param policy - computes weights and takes load reports.
   * @param clock - the pool's clock.
   * @param updatePeriodMs - how long weights are kept.
   */
  constructor(
    private readonly groups: readonly BuiltGroup<E>[],
    private readonly policy: LocalityPolicy<E>,
    private readonly clock: Clock,
    private readonly updatePeriodMs: number,
  ) {
    for (const g of groups) {
      for (const e of g.group.ready) {
        this.pickerOf.set(e, g.picker);
        if (g.group.key === LOCAL) this.local.add(e);
      }
    }
  }

  /** The groups' current weights, summing to 1 (for tests and stats). */
  currentWeights(): ReadonlyMap<string, number> {
    this.update(this.clock.now());
    const out = new Map<string, number>();
    let before = 0;
    this.groups.forEach((g, i) => {
      const c = this.cumulative[i] as number;
      out.set(g.group.key === LOCAL ? "local" : g.group.key, c - before);
      before = c;
    });
    return out;
  }

  /** An endpoint of a group chosen by weight; the group's picker gets the call's `info` (e.g. ring_hash's key). */
  pick(info?: PickInfo): E | undefined {
    const now = this.clock.now();
    if (now >= this.nextUpdateAt) this.update(now);
    const r = Math.random();
    const n = this.groups.length;
    let i = 0;
    while (i < n - 1 && r >= (this.cumulative[i] as number)) i++;
    // The chosen group first, then the others in order (one may have nothing READY).
    for (let k = 0; k < n; k++) {
      const g = this.groups[(i + k) % n] as BuiltGroup<E>;
      if (k > 0 && g.group.ready.length === 0) continue;
      const e = g.picker.pick(info);
      if (e !== undefined) return e;
    }
    return undefined;
  }

  /** Counts the attempt, records its load report, then tells the group's picker. */
  onDone(endpoint: E, result: CallResult): void {
    this.policy.countAttempt(this.local.has(endpoint));
    this.policy.record(endpoint, result);
    this.pickerOf.get(endpoint)?.onDone?.(endpoint, result);
  }

  private update(now: number): void {
    this.nextUpdateAt = now + this.updatePeriodMs;
    const w = this.policy.weights(
      this.groups.map((g) => g.group),
      now,
    );
    const sum = w.reduce((a, b) => a + b, 0);
    let acc = 0;
    this.cumulative = w.map((x) => {
      acc += sum > 0 ? x / sum : 1 / w.length;
      return acc;
    });
  }
}
