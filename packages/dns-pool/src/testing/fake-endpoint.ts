import type { PoolEndpoint } from "../connection/pool-endpoint.js";
import { ConnectivityState } from "../core/connectivity.js";
import type { HealthStatus } from "../health/health-check.js";
import type { AddressAttributes } from "../resolver/address.js";

/**
 * An endpoint without a connection, for tests of policies, pickers, the
 * endpoint set and outlier detection (as grpc-js's MockSubchannel): the
 * test sets its `state` and counters; it records what the pool asked of it.
 */
export class FakeEndpoint implements PoolEndpoint {
  /** The state the balancer sees; set it, then rebuild. Default IDLE. */
  state: ConnectivityState = ConnectivityState.IDLE;
  /** Calls in flight. */
  inFlight = 0;
  /** Calls started. */
  calls = 0;
  /** Calls failed. */
  failures = 0;
  /** Health status. Default "UNCHECKED". */
  health: HealthStatus = "UNCHECKED";
  /** The last connection error, for messages. */
  lastError: Error | undefined;
  /** How many times the pool asked it to connect. */
  connectRequests = 0;
  /** True once `shutdown()` was called. */
  shutDown = false;
  /** True while outlier detection has it ejected. */
  ejected = false;
  /** True while liveness doubts it (no picks unless every READY endpoint is); set it, then rebuild. */
  suspect = false;
  /** How many times the pool released it (it no longer wanted it connected). */
  releases = 0;
  /**
   * The connection's own state when it differs from `state` (health or
   * ejection lowered `state`); undefined: `state` stands for it.
   */
  connectivity: ConnectivityState | undefined;
  /** Zone, node, hints, terminating: what its resolver said. Default: none. */
  attributes: AddressAttributes | undefined;
  /** Called when outlier detection ejects it or lets it back in. Default: nothing. */
  onChange: (() => void) | undefined;

  /**
   * @param address - e.g. "10.0.0.1:80".
   * @param onConnect - what `connect()` does besides counting, e.g. move to CONNECTING.
   */
  constructor(
    readonly address: string,
    private readonly onConnect?: (endpoint: FakeEndpoint) => void,
  ) {}

  /** Counts the request; runs `onConnect`. */
  connect(): void {
    this.connectRequests++;
    this.onConnect?.(this);
  }

  /** Counts the release; a connecting or connected one goes IDLE, as a subchannel does. */
  release(): void {
    this.releases++;
    // A failed one stays so until its backoff is over, as a subchannel does.
    if (this.state !== ConnectivityState.SHUTDOWN && this.state !== ConnectivityState.TRANSIENT_FAILURE) {
      this.state = ConnectivityState.IDLE;
    }
  }

  /** Records the ejection; runs `onChange`. */
  setEjected(ejected: boolean): void {
    this.ejected = ejected;
    this.onChange?.();
  }

  /** Marks it shut down (state SHUTDOWN). */
  shutdown(): Promise<void> {
    this.shutDown = true;
    this.state = ConnectivityState.SHUTDOWN;
    return Promise.resolve();
  }
}

/** `n` endpoints "10.0.0.1:80", "10.0.0.2:80", ..., all in `state`. */
export function fakeEndpoints(n: number, state = ConnectivityState.READY): FakeEndpoint[] {
  return Array.from({ length: n }, (_, i) => {
    const e = new FakeEndpoint(`10.0.0.${i + 1}:80`);
    e.state = state;
    return e;
  });
}

/**
 * Endpoints spread over zones, e.g. `zonedEndpoints({ a: 3, b: 3 })`:
 * "10.1.0.1:80".."10.1.0.3:80" in zone "a", "10.2.0.1:80".. in zone "b"
 * (the second number is the zone's position), all in `state`, each with
 * `attributes.zone` set, for tests of zone-aware routing.
 */
export function zonedEndpoints(
  perZone: Readonly<Record<string, number>>,
  state = ConnectivityState.READY,
): FakeEndpoint[] {
  return Object.entries(perZone).flatMap(([zone, n], z) =>
    Array.from({ length: n }, (_, i) => {
      const e = new FakeEndpoint(`10.${z + 1}.0.${i + 1}:80`);
      e.state = state;
      e.attributes = { zone };
      return e;
    }),
  );
}
