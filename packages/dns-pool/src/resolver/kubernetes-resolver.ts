import { setTimeout as sleep } from "node:timers/promises";
import { Code, ConnectError } from "@connectrpc/connect";
import { type Backoff, resolutionBackoff } from "../core/backoff.js";
import type { Address, AddressAttributes } from "./address.js";
import type { Resolver, ResolverListener } from "./resolver.js";

/** Settings of {@link KubernetesResolver}. */
export interface KubernetesResolverOptions {
  /** The Service whose EndpointSlices to watch. */
  readonly service: string;
  /** The Service's namespace. */
  readonly namespace: string;
  /** The pod port: a number, or the name of a port in the EndpointSlices. */
  readonly port: number | string;
  /** A `KubeConfig` of @kubernetes/client-node; default `loadFromDefault()` (in cluster: the service account). */
  readonly kubeConfig: object | undefined;
  /** Backoff between failed list/watch attempts. */
  readonly initialBackoffMs: number;
  /** The longest delay between failed attempts. */
  readonly maxBackoffMs: number;
  /**
   * The client's node: its `topology.kubernetes.io/zone` label is read
   * (needs `get` on `nodes`) beside the first list, never delaying it, and
   * published as `clientZone` once known. A failed lookup is a warning
   * (`onWarning`, reported once), not a resolution error: zone-aware
   * routing is optional. Tried again on each relist until it works.
   * Optional; default: no lookup.
   */
  readonly clientNode?: string;
}

/** The well-known label of a Node's zone. */
const ZONE_LABEL = "topology.kubernetes.io/zone";

/** How long the client's Node lookup may take before it is reported (a late answer still counts). */
export const ZONE_LOOKUP_TIMEOUT_MS = 5000;

/** The parts of a discovery.k8s.io/v1 EndpointSlice that matter here. */
interface EndpointSlice {
  metadata?: { name?: string; resourceVersion?: string };
  ports?: { name?: string; port?: number }[] | null;
  endpoints?: SliceEndpoint[] | null;
}

/** One endpoint of an EndpointSlice (discovery.k8s.io/v1), the fields read here. */
interface SliceEndpoint {
  addresses?: string[];
  conditions?: { ready?: boolean | null; serving?: boolean | null; terminating?: boolean | null };
  zone?: string | null;
  nodeName?: string | null;
  hints?: { forZones?: { name?: string }[] | null } | null;
}

/** A watch that must start over from a fresh list (410 Gone, or an ERROR event). */
class RelistNeeded extends Error {}

/**
 * Resolves `kubernetes:///service.namespace:port` by watching the Service's
 * `discovery.k8s.io/v1` EndpointSlices, as kube-proxy does: a full list
 * (all slices of the Service, paged), then a watch from its resourceVersion.
 * Every change is applied at once, so a new ready pod is seen in
 * milliseconds, with no DNS TTL in between. Only endpoints whose `ready`
 * condition is not false count; when there is none, the serving but
 * terminating ones do (marked `terminating`), as kube-proxy does, so that
 * calls still find a pod while the last ones drain. Each address carries
 * the endpoint's `zone`, `nodeName` and `hints.forZones` as its
 * attributes, for zone-aware routing (the `locality` option). A watch that ends is resumed from the last
 * resourceVersion; a 410 Gone, or any failure, relists with backoff, and the
 * pool keeps its last good addresses meanwhile.
 */
export class KubernetesResolver implements Resolver {
  private listener: ResolverListener | undefined;
  private readonly slices = new Map<string, EndpointSlice>();
  private closed = false;
  private abortWatch: AbortController | undefined;
  private readonly sleeper = new AbortController();
  private readonly backoff: Backoff;
  private clientZone: string | undefined;
  /** The Node lookup in flight, if any. */
  private zoneLookup: Promise<void> | undefined;
  /** The lookup's failure was reported (once per resolver, not per relist). */
  private zoneWarned = false;
  /** The slices of a complete list are in `slices` (false during a relist). */
  private listed = false;

  constructor(private readonly options: KubernetesResolverOptions) {
    this.backoff = resolutionBackoff(options.initialBackoffMs, options.maxBackoffMs);
  }

  /** Lists the EndpointSlices, then watches them. */
  start(listener: ResolverListener): void {
    this.listener = listener;
    void this.run();
  }

  /** The watch sees every change as it happens: nothing to do. */
  resolveNow(): void {}

  /** Stops the watch and any backoff sleep. */
  close(): void {
    this.closed = true;
    this.abortWatch?.abort();
    this.sleeper.abort();
  }

  private get what(): string {
    return `EndpointSlices of Service ${this.options.namespace}/${this.options.service}`;
  }

  private async run(): Promise<void> {
    // Either major works: 1.x and 2.x have the same KubeConfig, DiscoveryV1Api
    // (object parameters) and Watch; they differ in the HTTP client under them
    // (see describe() and watchOnce()).
    let k8s: typeof import("@kubernetes/client-node");
    try {
      k8s = await import("@kubernetes/client-node");
    } catch (err) {
      const missing =
        (err as { code?: string }).code === "ERR_MODULE_NOT_FOUND" &&
        String((err as Error).message).includes("'@kubernetes/client-node'");
      this.listener?.onResolutionError(
        new ConnectError(
          missing
            ? "kubernetes: targets need the optional peer dependency @kubernetes/client-node (^1.0.0 || ^2.0.0): install it next to @rngbalance/dns-pool"
            : `kubernetes: targets: @kubernetes/client-node did not load (2.x needs Node >= 22.19; 1.x runs on every Node this package supports): ${(err as Error).message}`,
          Code.FailedPrecondition,
        ),
      );
      return;
    }
    let kc: InstanceType<typeof k8s.KubeConfig>;
    try {
      kc =
        (this.options.kubeConfig as InstanceType<typeof k8s.KubeConfig> | undefined) ?? new k8s.KubeConfig();
      if (!this.options.kubeConfig) kc.loadFromDefault();
    } catch (err) {
      this.report(`cannot load a kubeconfig: ${(err as Error).message}`);
      return;
    }
    const api = kc.makeApiClient(k8s.DiscoveryV1Api);
    const core = this.options.clientNode === undefined ? undefined : kc.makeApiClient(k8s.CoreV1Api);
    const watch = new k8s.Watch(kc);
    const { namespace, service } = this.options;
    const labelSelector = `kubernetes.io/service-name=${service}`;
    const path = `/apis/discovery.k8s.io/v1/namespaces/${encodeURIComponent(namespace)}/endpointslices`;
    while (!this.closed) {
      try {
        // The client's zone, until known, beside the list (never delaying it): tried
        // again on every relist (the API server may have been down, RBAC fixed).
        if (core !== undefined && this.clientZone === undefined && this.zoneLookup === undefined) {
          this.zoneLookup = this.readClientZone(core).finally(() => {
            this.zoneLookup = undefined;
          });
        }
        // List every slice (paged), then publish them as one address set.
        this.listed = false;
        this.slices.clear();
        let resourceVersion: string | undefined;
        let next: string | undefined;
        do {
          const page = await api.listNamespacedEndpointSlice({
            namespace,
            labelSelector,
            limit: 500,
            _continue: next,
          });
          for (const slice of page.items) this.slices.set(slice.metadata?.name ?? "", slice as EndpointSlice);
          next = page.metadata?._continue || undefined;
          resourceVersion = page.metadata?.resourceVersion;
        } while (next);
        this.listed = true;
        this.publish();
        this.backoff.reset();
        // Watch from there; a watch the server ends is resumed where it stopped.
        for (;;) {
          resourceVersion = await this.watchOnce(watch, path, labelSelector, resourceVersion);
          if (this.closed) return;
        }
      } catch (err) {
        if (this.closed) return;
        if (!(err instanceof RelistNeeded)) this.report(describe(err));
        try {
          await sleep(err instanceof RelistNeeded ? 0 : this.backoff.nextDelayMs(), undefined, {
            signal: this.sleeper.signal,
            ref: false,
          });
        } catch {
          return;
        }
      }
    }
  }

  /**
   * Reads the zone label of the client's Node. A failure is reported (the
   * list that follows clears it) and leaves the zone unknown until the next
   * relist: calls are then balanced as without zones, which is safe.
   */
  private async readClientZone(core: {
    readNode(param: { name: string }): Promise<{ metadata?: { labels?: Record<string, string> } }>;
  }): Promise<void> {
    const name = this.options.clientNode as string;
    let timer: NodeJS.Timeout | undefined;
    try {
      const timeout = new Promise<never>((_, reject) => {
        timer = setTimeout(
          () => reject(new Error(`no answer within ${ZONE_LOOKUP_TIMEOUT_MS} ms`)),
          ZONE_LOOKUP_TIMEOUT_MS,
        );
        timer.unref();
      });
      const lookup = core.readNode({ name });
      // A late answer still sets the zone (the lookup is not abortable).
      lookup.then(
        (node) => this.learnZone(node),
        () => {},
      );
      const node = await Promise.race([lookup, timeout]);
      if (!node.metadata?.labels?.[ZONE_LABEL]) {
        this.warn(
          `Node ${name} has no ${ZONE_LABEL} label: set RNG_ZONE (or locality.zone) for zone-aware routing`,
        );
      }
    } catch (err) {
      this.warn(
        `cannot read the zone of Node ${name} (zone-aware routing needs "get" on "nodes" for the pod's service account, or RNG_ZONE set); routing ignores zones until then: ${describe(err)}`,
      );
    } finally {
      clearTimeout(timer);
    }
  }

  /** Takes the zone of the client's Node and republishes the list with it. */
  private learnZone(node: { metadata?: { labels?: Record<string, string> } }): void {
    const zone = node.metadata?.labels?.[ZONE_LABEL];
    if (!zone || zone === this.clientZone || this.closed) return;
    this.clientZone = zone;
    if (this.listed) this.publish();
  }

  /** Reports a failed zone lookup once: optional, so a warning, not a resolution error. */
  private warn(why: string): void {
    if (this.zoneWarned || this.closed) return;
    this.zoneWarned = true;
    this.listener?.onWarning?.(new ConnectError(`kubernetes: ${this.what}: ${why}`, Code.Unavailable));
  }

  /** One watch request; resolves with the last resourceVersion when the server ends it. */
  private watchOnce(
    watch: { watch: (...args: never[]) => Promise<AbortController> },
    path: string,
    labelSelector: string,
    resourceVersion: string | undefined,
  ): Promise<string | undefined> {
    let rv = resourceVersion;
    return new Promise((resolve, reject) => {
      const onEvent = (type: string, obj: EndpointSlice & { code?: number; message?: string }) => {
        if (type === "ERROR") {
          // 410 Gone: our resourceVersion is too old; anything else: start over too.
          this.abortWatch?.abort();
          reject(
            obj.code === 410 ? new RelistNeeded() : new Error(`watch error ${obj.code}: ${obj.message}`),
          );
          return;
        }
        rv = obj.metadata?.resourceVersion ?? rv;
        const name = obj.metadata?.name ?? "";
        if (type === "ADDED" || type === "MODIFIED") this.slices.set(name, obj);
        else if (type === "DELETED") this.slices.delete(name);
        else return; // BOOKMARK: only the resourceVersion moves
        this.publish();
      };
      // client-node 2.x aborts a watch that received nothing for 30 s with a
      // TimeoutError (1.x never does): a quiet Service, not a failure. Resume
      // from the last resourceVersion, as for a watch the server ended; a dead
      // API server then fails the next request and is reported there.
      const onDone = (err: unknown) =>
        err && !this.closed && (err as Error).name !== "TimeoutError" ? reject(err) : resolve(rv);
      (watch.watch as (...args: unknown[]) => Promise<AbortController>)(
        path,
        { labelSelector, resourceVersion: rv, allowWatchBookmarks: true },
        onEvent,
        onDone,
      ).then((controller) => {
        this.abortWatch = controller;
        if (this.closed) controller.abort();
      }, reject);
    });
  }

  private publish(): void {
    const { port } = this.options;
    const seen = new Map<string, Address>();
    const terminating = new Map<string, Address>();
    for (const slice of this.slices.values()) {
      const podPort = typeof port === "number" ? port : slice.ports?.find((p) => p.name === port)?.port;
      if (podPort === undefined) continue;
      for (const endpoint of slice.endpoints ?? []) {
        const c = endpoint.conditions;
        // EndpointSlice API: a missing `ready` means ready; a not-ready endpoint counts only
        // while both `serving` and `terminating` (a pod draining on SIGTERM).
        const ready = c?.ready !== false;
        const servingTerminating = !ready && c?.terminating === true && c?.serving === true;
        if (!ready && !servingTerminating) continue;
        const attributes = attributesOf(endpoint, servingTerminating);
        const into = ready ? seen : terminating;
        for (const host of endpoint.addresses ?? []) {
          into.set(
            `${host}:${podPort}`,
            attributes ? { host, port: podPort, attributes } : { host, port: podPort },
          );
        }
      }
    }
    // kube-proxy's rule: terminating endpoints only when nothing is ready.
    if (seen.size === 0) for (const [k, a] of terminating) seen.set(k, a);
    if (seen.size === 0) {
      this.report(
        typeof port === "string" &&
          ![...this.slices.values()].some((s) => s.ports?.some((p) => p.name === port))
          ? `no port named "${port}" in the ${this.what}`
          : `no ready endpoint in the ${this.what} (${this.slices.size} slices)`,
      );
      return;
    }
    this.listener?.onResolution({
      addresses: [...seen.keys()].sort().map((k) => seen.get(k) as Address),
      ttlSeconds: undefined,
      ...(this.clientZone === undefined ? {} : { clientZone: this.clientZone }),
    });
  }

  private report(why: string): void {
    this.listener?.onResolutionError(new ConnectError(`kubernetes: ${this.what}: ${why}`, Code.Unavailable));
  }
}

/** The topology of one endpoint as address attributes; undefined when the slice says nothing. */
function attributesOf(endpoint: SliceEndpoint, terminating: boolean): AddressAttributes | undefined {
  const forZones = endpoint.hints?.forZones
    ?.map((z) => z.name)
    .filter((z): z is string => typeof z === "string" && z !== "");
  const attributes: { -readonly [K in keyof AddressAttributes]: AddressAttributes[K] } = {};
  if (endpoint.zone) attributes.zone = endpoint.zone;
  if (endpoint.nodeName) attributes.nodeName = endpoint.nodeName;
  if (forZones && forZones.length > 0) attributes.forZones = forZones;
  if (terminating) attributes.terminating = true;
  return Object.keys(attributes).length === 0 ? undefined : attributes;
}

function describe(err: unknown): string {
  const e = err as { code?: number; body?: unknown; message?: string; cause?: unknown };
  if (typeof e.code === "number")
    return `API server answered HTTP ${e.code}: ${String(e.body ?? e.message).slice(0, 200)}`;
  const message = e.message ?? String(err);
  // client-node 2.x fetches with undici, whose network errors say only
  // "fetch failed" and keep the reason (e.g. ECONNREFUSED) in `cause`.
  const cause = (e.cause as { message?: string } | undefined)?.message;
  return cause && !message.includes(cause) ? `${message}: ${cause}` : message;
}
