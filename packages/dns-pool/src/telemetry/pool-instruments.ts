import type {
  Attributes,
  Meter,
  ObservableCallback,
  ObservableCounter,
  ObservableGauge,
  UpDownCounter,
} from "@opentelemetry/api";
import { ATTR, disconnectReason, goawayReason, METRIC } from "./names.js";

/** What the pool's gauges read when they are collected. */
export interface TelemetrySources {
  /** The endpoints in use, with their balancer state and health. */
  endpoints(): readonly {
    readonly address: string;
    readonly state: string;
    readonly health: string;
    readonly calls: number;
  }[];
  /** Calls waiting for a READY endpoint now. */
  waiting(): number;
  /** Calls started on endpoints that have left the pool (picks must never go down). */
  removedCalls(): number;
  /** The same by address, for picks labelled per endpoint. */
  removedCallsByAddress(): ReadonlyMap<string, number>;
  /** Whether the pool balances in panic now, and how many times it entered panic. */
  panic(): PanicCounts;
  /** The zone-aware layer's figures; undefined without the `locality` option. */
  locality(): LocalityCounts | undefined;
}

/** The panic threshold's figures, for {@link TelemetrySources.panic}. */
export interface PanicCounts {
  /** True while too few endpoints are healthy and calls go to every connected one. */
  readonly active: boolean;
  /** How many times the pool entered panic. */
  readonly entered: number;
}

/** The zone-aware routing layer's figures (the `locality` option), for {@link TelemetrySources.locality}. */
export interface LocalityCounts {
  /** Attempts sent to endpoints of the client's zone (or hinted for it). */
  readonly local: number;
  /** Attempts sent to endpoints of other zones. */
  readonly otherZones: number;
  /**
   * The share of calls (0-1) the layer plans to keep in the client's zone
   * now; undefined while the client's zone is unknown (the layer is off)
   * or nothing is READY.
   */
  readonly localShare: number | undefined;
}

/** What a subchannel reports (gRFC A94); a no-op when metrics are off. */
export interface SubchannelTelemetry {
  /** A connection attempt got the server's SETTINGS. */
  connectionSucceeded(): void;
  /** A connection attempt failed. */
  connectionFailed(): void;
  /** A connection that had SETTINGS closed. */
  connectionClosed(): void;
  /** The READY connection was lost: GOAWAY (with its code), an error, or shutdown. */
  disconnected(error: Error | undefined, goawayCode: number | undefined, shutdown: boolean): void;
}

/** A subchannel telemetry that records nothing. */
export const NO_SUBCHANNEL_TELEMETRY: SubchannelTelemetry = {
  connectionSucceeded() {},
  connectionFailed() {},
  connectionClosed() {},
  disconnected() {},
};

/** gRFC A94's connection instruments, labelled with `grpc.target`. */
export function subchannelInstruments(m: Meter, attrs: Attributes): SubchannelTelemetry {
  const succeeded = m.createCounter(METRIC.connectionsSucceeded, { unit: "{attempt}" });
  const failed = m.createCounter(METRIC.connectionsFailed, { unit: "{attempt}" });
  const disconnections = m.createCounter(METRIC.disconnections, { unit: "{disconnection}" });
  const open: UpDownCounter = m.createUpDownCounter(METRIC.openConnections, { unit: "{connection}" });
  const byReason = new Map<string, Attributes>();
  return {
    connectionSucceeded() {
      succeeded.add(1, attrs);
      open.add(1, attrs);
    },
    connectionFailed: () => failed.add(1, attrs),
    connectionClosed: () => open.add(-1, attrs),
    disconnected(error, goawayCode, shutdown) {
      const reason = shutdown
        ? "subchannel shutdown"
        : goawayCode !== undefined
          ? goawayReason(goawayCode)
          : disconnectReason(error);
      disconnections.add(
        1,
        cached(byReason, reason, () => ({ ...attrs, [ATTR.disconnectError]: reason })),
      );
    },
  };
}

/**
 * The pool's observable instruments: endpoints by state and health, calls
 * waiting, picks. Returns what to call when the pool closes: the final
 * values (no endpoint, no waiting call, the picks made) are frozen and
 * reported by the next collection, after which the callbacks unregister,
 * so a closed pool is neither kept alive by the meter nor reported stale.
 */
export function observeGauges(
  m: Meter,
  target: Attributes,
  live: TelemetrySources,
  endpointLabel: boolean,
): () => void {
  let sources = live;
  let closed = false;
  const registered: [ObservableGauge | ObservableCounter, ObservableCallback][] = [];
  const unregister = () => {
    for (const [instrument, callback] of registered) instrument.removeCallback(callback);
    registered.length = 0;
  };
  const observe = (instrument: ObservableGauge | ObservableCounter, callback: ObservableCallback) => {
    const wrapped: ObservableCallback = (result) => {
      callback(result);
      // Not from inside the SDK's loop over the callbacks: right after it.
      if (closed && registered.length > 0) setImmediate(unregister);
    };
    instrument.addCallback(wrapped);
    registered.push([instrument, wrapped]);
  };
  const endpoints = m.createObservableGauge(METRIC.endpoints, {
    unit: "{endpoint}",
    description: "Endpoints by balancer state and health.",
  });
  // A gauge series that is no longer observed keeps its last value in
  // cumulative exporters: every combination once seen is reported, 0 when gone.
  const seen = new Map<string, Attributes>();
  const keyOf = (e: { state: string; health: string }) => {
    const key = `${e.state}|${e.health}`;
    if (!seen.has(key)) seen.set(key, { ...target, [ATTR.state]: e.state, [ATTR.health]: e.health });
    return key;
  };
  observe(endpoints, (result) => {
    const counts = new Map<string, number>();
    for (const e of sources.endpoints()) {
      const key = keyOf(e);
      counts.set(key, (counts.get(key) ?? 0) + 1);
    }
    for (const [key, attrs] of seen) result.observe(counts.get(key) ?? 0, attrs);
  });
  const waiting = m.createObservableGauge(METRIC.queueWaiting, {
    unit: "{call}",
    description: "Calls waiting for a READY endpoint now.",
  });
  observe(waiting, (result) => result.observe(sources.waiting(), target));
  const picks = m.createObservableCounter(METRIC.picks, {
    unit: "{pick}",
    description: "Attempts sent to an endpoint (rngbalance.endpoint with the endpointLabel option).",
  });
  const byAddress = new Map<string, Attributes>();
  observe(picks, (result) => {
    if (!endpointLabel) {
      let total = sources.removedCalls();
      for (const e of sources.endpoints()) total += e.calls;
      result.observe(total, target);
      return;
    }
    // An endpoint that left the pool keeps its count: its address's series never goes down.
    const totals = new Map(sources.removedCallsByAddress());
    for (const e of sources.endpoints()) totals.set(e.address, (totals.get(e.address) ?? 0) + e.calls);
    for (const [address, calls] of totals) {
      result.observe(
        calls,
        cached(byAddress, address, () => ({ ...target, [ATTR.endpoint]: address })),
      );
    }
  });
  const panic = m.createObservableGauge(METRIC.panic, {
    unit: "1",
    description:
      "1 while too few endpoints are healthy and the pool balances over every connected one (panicThresholdPercent), else 0.",
  });
  observe(panic, (result) => result.observe(sources.panic().active ? 1 : 0, target));
  const panics = m.createObservableCounter(METRIC.panics, {
    unit: "{panic}",
    description: "Times the pool entered panic (panicThresholdPercent).",
  });
  observe(panics, (result) => result.observe(sources.panic().entered, target));
  // Without the locality option these two are never observed: no series at all.
  const localityAttempts = m.createObservableCounter(METRIC.localityAttempts, {
    unit: "{attempt}",
    description:
      "Attempts zone-aware routing sent to endpoints of the client's zone (rngbalance.locality local) and of other zones (other_zone).",
  });
  const local = { ...target, [ATTR.locality]: "local" };
  const otherZone = { ...target, [ATTR.locality]: "other_zone" };
  observe(localityAttempts, (result) => {
    const l = sources.locality();
    if (l === undefined) return;
    result.observe(l.local, local);
    result.observe(l.otherZones, otherZone);
  });
  const localShare = m.createObservableGauge(METRIC.localityLocalShare, {
    unit: "1",
    description:
      "The share of calls (0-1) zone-aware routing keeps in the client's zone now, from the zones' capacity.",
  });
  // Once reported, always reported (0 while there is no plan: zone unknown, nothing READY, pool
  // closed): a cumulative exporter would otherwise keep showing the last share.
  let shareSeen = false;
  observe(localShare, (result) => {
    const share = sources.locality()?.localShare;
    if (share !== undefined) shareSeen = true;
    if (shareSeen) result.observe(share ?? 0, target);
  });
  return () => {
    if (closed) return;
    closed = true;
    // Final counts: the counters keep them; the gauges read no panic and no planned share.
    const entered = live.panic().entered;
    const finalLocality = live.locality();
    // Final counts: every endpoint has left; the gauges read no endpoint, no waiting call.
    const byAddress = new Map(live.removedCallsByAddress());
    let removed = live.removedCalls();
    for (const e of live.endpoints()) {
      // A pool closed before any collection still reports its endpoints' combinations (at 0).
      keyOf(e);
      byAddress.set(e.address, (byAddress.get(e.address) ?? 0) + e.calls);
      removed += e.calls;
    }
    sources = {
      endpoints: () => [],
      waiting: () => 0,
      removedCalls: () => removed,
      removedCallsByAddress: () => byAddress,
      panic: () => ({ active: false, entered }),
      locality: () => finalLocality && { ...finalLocality, localShare: undefined },
    };
  };
}

/** The value cached under `key`, made by `make` the first time. */
export function cached<V>(map: Map<string, V>, key: string, make: () => V): V {
  let value = map.get(key);
  if (value === undefined) {
    value = make();
    map.set(key, value);
  }
  return value;
}
