import { setTimeout as sleep } from "node:timers/promises";
import {
  Code,
  ConnectError,
  createClient,
  createContextKey,
  createContextValues,
  type Interceptor,
  type Transport,
} from "@connectrpc/connect";
import { Health, HealthCheckResponse_ServingStatus } from "@rngbalance/grpc-protos/grpc/health/v1";
import { Backoff } from "../core/backoff.js";

/**
 * What health checking says of an endpoint: PENDING until the first answer,
 * UNCHECKED when checking is off or the server has no health service.
 */
export type HealthStatus = "PENDING" | "SERVING" | "NOT_SERVING" | "UNCHECKED";

/** The `healthCheck` option resolved: the service to watch and the watches' own interceptors. */
export interface ResolvedHealthCheck {
  /** The service to watch; "" is the whole server. */
  readonly service: string;
  /** The health watches' own interceptors (never the pool's), or undefined for none. */
  readonly interceptors: Interceptor[] | undefined;
}

/**
 * The `healthCheck` option's object form (gRFC A17 health checking).
 * Health watches are the pool's own streams, one per connected endpoint,
 * run beside the application's calls: as in grpc-go and grpc-js, where they
 * are subchannel-level, the pool's `interceptors` do not run on them.
 */
export interface HealthCheckOptions {
  /** The service name to watch; "" is the whole server. Default "". */
  service?: string;
  /**
   * Interceptors for the health watches only, e.g. the one that adds the
   * credentials a server's health service requires (pass the same
   * interceptor as in the pool's `interceptors` to run it on both). Each
   * watch's `contextValues` has {@link POOL_HEALTH_CHECK} set to true, so
   * an interceptor shared with application calls can tell them apart.
   * Default: none.
   */
  interceptors?: Interceptor[];
}

/**
 * A context value that is true on the pool's own health watches
 * (`req.contextValues.get(POOL_HEALTH_CHECK)` in an interceptor) and false
 * (the default) on every call the application makes, a `Health/Watch` of
 * its own included.
 */
export const POOL_HEALTH_CHECK = createContextKey(false, { description: "dns-pool health check" });

/** The method path of health watches; their streams must not hold the process open. */
export const HEALTH_WATCH_PATH = `/${Health.typeName}/${Health.method.watch.name}`;

/**
 * Watches one endpoint's health with `grpc.health.v1.Health/Watch`, as
 * gRFC A17 describes: a status message per change; UNIMPLEMENTED means the
 * server has no health service, so it is not checked (and counts as
 * serving); any other end of the stream is retried with backoff.
 */
export class HealthWatcher {
  private controller: AbortController | undefined;
  private readonly backoff = new Backoff({ initialMs: 1000, maxMs: 30_000, multiplier: 1.6, jitter: 0.2 });

  constructor(
    private readonly transport: Transport,
    private readonly service: string,
    private readonly onStatus: (status: HealthStatus, why: string | undefined) => void,
  ) {}

  /** Starts watching (when the connection becomes READY). Idempotent. */
  start(): void {
    if (this.controller) return;
    const controller = new AbortController();
    this.controller = controller;
    void this.loop(controller.signal);
  }

  /** Stops watching (connection lost or endpoint removed). */
  stop(): void {
    this.controller?.abort();
    this.controller = undefined;
  }

  private async loop(signal: AbortSignal): Promise<void> {
    const client = createClient(Health, this.transport);
    const contextValues = createContextValues().set(POOL_HEALTH_CHECK, true);
    while (!signal.aborted) {
      try {
        for await (const res of client.watch({ service: this.service }, { signal, contextValues })) {
          this.backoff.reset();
          const serving = res.status === HealthCheckResponse_ServingStatus.SERVING;
          this.onStatus(
            serving ? "SERVING" : "NOT_SERVING",
            serving
              ? undefined
              : `health check of service "${this.service}": ${HealthCheckResponse_ServingStatus[res.status]}`,
          );
        }
      } catch (err) {
        if (signal.aborted) return;
        if (ConnectError.from(err).code === Code.Unimplemented) {
          this.onStatus("UNCHECKED", undefined);
          return;
        }
      }
      if (signal.aborted) return;
      try {
        await sleep(this.backoff.nextDelayMs(), undefined, { signal, ref: false });
      } catch {
        return;
      }
    }
  }
}
