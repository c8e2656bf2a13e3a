import type { ServiceImpl } from "@connectrpc/connect";
import { Code, ConnectError } from "@connectrpc/connect";
import {
  type Health,
  HealthCheckResponse_ServingStatus as ServingStatus,
} from "@rngbalance/grpc-protos/grpc/health/v1";

type Listener = (status: ServingStatus) => void;

/**
 * Serving status per service name, as served by `grpc.health.v1.Health`.
 *
 * The empty service name stands for the whole server. `shutdown()` flips
 * every service to NOT_SERVING and ends every Watch stream after it has
 * delivered that status, so that long-lived Watch calls never hold up a
 * graceful drain.
 */
export class HealthRegistry {
  private readonly statuses = new Map<string, ServingStatus>();
  private readonly listeners = new Map<string, Set<Listener>>();
  private readonly shutdownController = new AbortController();

  /** Sets a service's status and notifies its watchers if it changed. */
  setStatus(service: string, status: ServingStatus): void {
    if (this.statuses.get(service) === status) return;
    this.statuses.set(service, status);
    for (const listener of this.listeners.get(service) ?? []) listener(status);
  }

  /** The service's status, or undefined for a service never registered. */
  getStatus(service: string): ServingStatus | undefined {
    return this.statuses.get(service);
  }

  /** Flips every service to NOT_SERVING and ends all Watch streams. */
  shutdown(): void {
    for (const service of this.statuses.keys()) this.setStatus(service, ServingStatus.NOT_SERVING);
    this.shutdownController.abort();
  }

  /** True once shutdown() was called. */
  get isShutDown(): boolean {
    return this.shutdownController.signal.aborted;
  }

  /**
   * Yields the service's status now and on every change, until `signal`
   * aborts or the registry shuts down (after yielding NOT_SERVING).
   */
  async *watch(service: string, signal: AbortSignal): AsyncGenerator<ServingStatus> {
    const queue: ServingStatus[] = [this.statuses.get(service) ?? ServingStatus.SERVICE_UNKNOWN];
    let wake: (() => void) | undefined;
    const listener: Listener = (status) => {
      queue.push(status);
      wake?.();
    };
    const onAbort = () => wake?.();
    let set = this.listeners.get(service);
    if (!set) {
      set = new Set();
      this.listeners.set(service, set);
    }
    set.add(listener);
    signal.addEventListener("abort", onAbort);
    this.shutdownController.signal.addEventListener("abort", onAbort);
    try {
      for (;;) {
        const status = queue.shift();
        if (status !== undefined) {
          yield status;
          continue;
        }
        if (signal.aborted || this.isShutDown) return;
        await new Promise<void>((resolve) => {
          wake = resolve;
        });
        wake = undefined;
      }
    } finally {
      set.delete(listener);
      signal.removeEventListener("abort", onAbort);
      this.shutdownController.signal.removeEventListener("abort", onAbort);
    }
  }
}

/** The `grpc.health.v1.Health` service over a registry. */
export function createHealthService(registry: HealthRegistry): ServiceImpl<typeof Health> {
  return {
    check(request) {
      const status = registry.getStatus(request.service);
      if (status === undefined) {
        throw new ConnectError(`unknown service "${request.service}"`, Code.NotFound);
      }
      return { status };
    },
    async *watch(request, context) {
      for await (const status of registry.watch(request.service, context.signal)) {
        yield { status };
      }
    },
  };
}
