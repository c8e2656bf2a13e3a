import { LocalityPolicy } from "./balancer/locality.js";
import { createPolicy } from "./balancer/registry.js";
import { CallRunner } from "./call/call-runner.js";
import { EndpointSet } from "./call/endpoint-set.js";
import { PickQueue } from "./call/pick-queue.js";
import { Retry } from "./call/retry.js";
import { ExtraAttempts, RetryBudget, RetryThrottle } from "./call/retry-limits.js";
import type { Endpoint } from "./connection/endpoint.js";
import { EndpointFactory } from "./connection/endpoint-factory.js";
import { systemClock } from "./core/clock.js";
import { ConnectivityState } from "./core/connectivity.js";
import { PoolEventBus } from "./core/events.js";
import { OutlierDetector } from "./health/outlier-detector.js";
import { type ResolvedPoolOptions, resolverOptions } from "./options-resolve.js";
import type { Resolver } from "./resolver/resolver.js";
import { resolveTarget } from "./resolver/target.js";
import { subsetResolver } from "./subset/subset-resolver.js";
import { PoolTelemetry } from "./telemetry/pool-telemetry.js";

/** A pool's parts, wired; the resolver is not started yet. */
export interface PoolParts {
  /** The target as given. */
  readonly target: string;
  /** The policy's name, for stats. */
  readonly policyName: string;
  /** The pool's events. */
  readonly events: PoolEventBus;
  /** The pool's telemetry. */
  readonly telemetry: PoolTelemetry;
  /** The resolver (through the scheme registry, wrapped for subsetting); start it with the endpoint set. */
  readonly resolver: Resolver;
  /** The endpoints, the policy's picker and the aggregate state. */
  readonly endpoints: EndpointSet<Endpoint>;
  /** Calls waiting for a READY endpoint. */
  readonly queue: PickQueue<Endpoint>;
  /** Outlier detection, or undefined when off. */
  readonly outliers: OutlierDetector<Endpoint> | undefined;
  /** Runs calls. */
  readonly calls: CallRunner;
  /** The zone-aware routing layer (the `locality` option), or undefined without it. */
  readonly locality: LocalityPolicy<Endpoint> | undefined;
}

/**
 * Makes a pool's parts in dependency order, each from its slice of the
 * resolved options: telemetry and the resolver first (they need nothing
 * else), then the endpoint set (whose endpoints report their changes to
 * it), the pick queue over the set, outlier detection over the set's
 * endpoints, and the call runner over all of them. Nothing refers to a
 * part before it exists; the set tells the queue of new pickers through a
 * listener added once the queue is made.
 *
 * @throws ConnectError (InvalidArgument) for a malformed target.
 */
export function buildPoolParts(o: ResolvedPoolOptions): PoolParts {
  const clock = systemClock;
  const events = new PoolEventBus();
  const target = resolveTarget(o.target, o.defaultPort);
  const telemetry = new PoolTelemetry(o.target, o.telemetry);
  const factory = new EndpointFactory(o, o.authority ?? target.authority, telemetry);
  let resolver = target.createResolver(resolverOptions(o));
  if (o.subset) resolver = subsetResolver(resolver, o.subset);
  const policyContext = {
    target: o.target,
    clock,
    options: o.policyOptions,
    telemetry: telemetry.policy,
  };
  const policy = o.locality
    ? new LocalityPolicy<Endpoint>(() => createPolicy<Endpoint>(o.policy, policyContext), o.locality, clock)
    : createPolicy<Endpoint>(o.policy, policyContext);
  const endpoints = new EndpointSet<Endpoint>(
    o.target,
    policy,
    (address, listener) => factory.create(address, listener),
    {
      onResolution: (e) => {
        if (telemetry.metricsOn) telemetry.resolved();
        events.emit("resolution", e);
      },
      onResolutionError: (e) => {
        if (telemetry.metricsOn) telemetry.resolutionFailed(e.error);
        events.emit("resolutionError", e);
      },
      onStateChange: (e) => events.emit("state", e),
      onConnectionChange: (address, { previous, state, error }) => {
        events.emit("endpointState", { address, previous, state, error });
        // A lost or failed connection may mean the pod is gone: ask DNS (rate-limited).
        if (
          state === ConnectivityState.TRANSIENT_FAILURE ||
          (previous === ConnectivityState.READY && state === ConnectivityState.IDLE)
        ) {
          resolver.resolveNow();
        }
      },
      onGoaway: () => resolver.resolveNow(),
      onPanicChange: (e) => events.emit("panic", e),
      onResolverWarning: (e) => events.emit("resolverWarning", e),
    },
    o.connect === "eager",
    o.panicThresholdPercent,
  );
  const queue = new PickQueue(endpoints, clock, o.waitForReady, o.target);
  endpoints.addPickerListener(() => queue.serve());
  const od = o.outlierDetection;
  const outliers = od
    ? new OutlierDetector<Endpoint>(od, clock, endpoints, {
        onEjection: (e) => events.emit("ejection", e),
        onSweep: (stats) => {
          if (telemetry.metricsOn) telemetry.outlierSweep(stats);
        },
      })
    : undefined;
  telemetry.observe({
    endpoints: () => endpoints.endpoints,
    waiting: () => queue.size,
    removedCalls: () => endpoints.removedCalls,
    removedCallsByAddress: () => endpoints.removedCallsByAddress,
    panic: () => ({ active: endpoints.panic, entered: endpoints.panicsEntered }),
    locality: () => (policy instanceof LocalityPolicy ? policy.counts() : undefined),
  });
  const calls = new CallRunner({
    set: endpoints,
    queue,
    retry: new Retry(o.transparentRetries, o.retryPolicy),
    outliers,
    events,
    clock,
    defaultTimeoutMs: o.defaultTimeoutMs,
    telemetry,
    requestHeaders: policy.requestHeaders,
    hedging: o.hedgingPolicy,
    limits:
      o.retryThrottling || o.retryBudget
        ? new ExtraAttempts(
            o.retryThrottling && new RetryThrottle(o.retryThrottling),
            o.retryBudget && new RetryBudget(o.retryBudget, clock),
          )
        : undefined,
  });
  return {
    target: o.target,
    policyName: policy.name,
    events,
    telemetry,
    resolver,
    endpoints,
    queue,
    outliers,
    calls,
    locality: policy instanceof LocalityPolicy ? policy : undefined,
  };
}
