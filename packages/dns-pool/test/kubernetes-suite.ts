/**
 * The Kubernetes resolver's tests, for both majors of the optional peer
 * @kubernetes/client-node: kubernetes.test.ts runs them with 2.x (the
 * package's own), kubernetes-client-v1.test.ts with 1.x (installed as
 * @kubernetes/client-node-v1) by resolving the package name there.
 * Imported by those two files only.
 */
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import * as http from "node:http";
import type { AddressInfo } from "node:net";
import { dirname, join } from "node:path";
import { after, before, describe, it } from "node:test";
import { fileURLToPath } from "node:url";
import { KubeConfig } from "@kubernetes/client-node";
import {
  createPoolTransport,
  type PoolTransport,
  parseTarget,
  type ResolutionEvent,
} from "@rngbalance/dns-pool";
import { freePort, until } from "./support.js";

interface Slice {
  apiVersion: "discovery.k8s.io/v1";
  kind: "EndpointSlice";
  metadata: { name: string; namespace: string; resourceVersion: string; labels: Record<string, string> };
  addressType: "IPv4";
  ports: { name: string; port: number; protocol: "TCP" }[];
  endpoints: SliceEndpoint[];
}

/** An EndpointSlice endpoint with its topology fields (zone, node, hints) when a test sets them. */
interface SliceEndpoint {
  addresses: string[];
  conditions: { ready: boolean; serving?: boolean; terminating?: boolean };
  zone?: string;
  nodeName?: string;
  hints?: { forZones: { name: string }[] };
}

/** One endpoint of {@link FakeApiServer.upsertEndpoints}. */
export interface TopologyEndpoint {
  readonly ip: string;
  readonly ready?: boolean;
  readonly serving?: boolean;
  readonly terminating?: boolean;
  readonly zone?: string;
  readonly nodeName?: string;
  readonly forZones?: readonly string[];
}

/**
 * A real HTTP server speaking the Kubernetes list/watch protocol for
 * EndpointSlices: paged lists (`limit`/`continue`), chunked watch streams
 * of JSON events from a resourceVersion, 410 Gone for a stale one.
 */
export class FakeApiServer {
  readonly slices = new Map<string, Slice>();
  /** Nodes served at /api/v1/nodes/<name>: name → labels. */
  readonly nodes = new Map<string, Record<string, string>>();
  readonly requests: string[] = [];
  private revision = 1;
  private readonly history: { rv: number; type: string; object: Slice }[] = [];
  private readonly watchers = new Set<{ res: http.ServerResponse; selector: string }>();
  /** Lists return at most this many slices per page, whatever `limit` asks. */
  pageSize = 2;
  private server!: http.Server;

  async start(): Promise<string> {
    this.server = http.createServer((req, res) => this.handle(req, res));
    await new Promise<void>((r) => this.server.listen(0, "127.0.0.1", r));
    return `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
  }

  upsert(name: string, ips: string[], { ready = true, service = "rng-headless" } = {}): void {
    this.upsertEndpoints(
      name,
      ips.map((ip) => ({ ip, ready })),
      { service },
    );
  }

  /** A slice with per-endpoint conditions and topology (zone, nodeName, hints), on `port`. */
  upsertEndpoints(
    name: string,
    endpoints: readonly TopologyEndpoint[],
    { service = "rng-headless", port = 8081 } = {},
  ): void {
    const type = this.slices.has(name) ? "MODIFIED" : "ADDED";
    const object: Slice = {
      apiVersion: "discovery.k8s.io/v1",
      kind: "EndpointSlice",
      metadata: {
        name,
        namespace: "demo",
        resourceVersion: String(++this.revision),
        labels: { "kubernetes.io/service-name": service },
      },
      addressType: "IPv4",
      ports: [{ name: "grpc", port, protocol: "TCP" }],
      endpoints: endpoints.map((e) => ({
        addresses: [e.ip],
        conditions: {
          ready: e.ready ?? true,
          ...(e.serving === undefined ? {} : { serving: e.serving }),
          ...(e.terminating === undefined ? {} : { terminating: e.terminating }),
        },
        ...(e.zone === undefined ? {} : { zone: e.zone }),
        ...(e.nodeName === undefined ? {} : { nodeName: e.nodeName }),
        ...(e.forZones === undefined ? {} : { hints: { forZones: e.forZones.map((z) => ({ name: z })) } }),
      })),
    };
    this.slices.set(name, object);
    this.event(type, object);
  }

  delete(name: string): void {
    const object = this.slices.get(name);
    if (!object) return;
    this.slices.delete(name);
    this.event("DELETED", {
      ...object,
      metadata: { ...object.metadata, resourceVersion: String(++this.revision) },
    });
  }

  /** Ends every open watch, as an API server does on its watch timeout. */
  dropWatches(): void {
    for (const w of this.watchers) w.res.end();
    this.watchers.clear();
  }

  /** Forgets history: the next watch from an old resourceVersion gets 410 Gone. */
  compact(): void {
    this.history.length = 0;
  }

  get openWatches(): number {
    return this.watchers.size;
  }

  close(): Promise<void> {
    this.dropWatches();
    this.server.closeAllConnections();
    return new Promise((r) => this.server.close(() => r()));
  }

  private event(type: string, object: Slice): void {
    const rv = Number(object.metadata.resourceVersion);
    this.history.push({ rv, type, object });
    for (const w of this.watchers) {
      if (matches(object, w.selector)) w.res.write(`${JSON.stringify({ type, object })}\n`);
    }
  }

  private handle(req: http.IncomingMessage, res: http.ServerResponse): void {
    const url = new URL(req.url ?? "/", "http://x");
    this.requests.push(`${req.method} ${url.pathname}${url.search}`);
    const node = /^\/api\/v1\/nodes\/([^/]+)$/.exec(url.pathname);
    if (node) {
      const name = decodeURIComponent(node[1] as string);
      const labels = this.nodes.get(name);
      if (labels === undefined) {
        res.writeHead(404, { "content-type": "application/json" }).end('{"kind":"Status","code":404}');
        return;
      }
      res
        .writeHead(200, { "content-type": "application/json" })
        .end(JSON.stringify({ apiVersion: "v1", kind: "Node", metadata: { name, labels } }));
      return;
    }
    if (url.pathname !== "/apis/discovery.k8s.io/v1/namespaces/demo/endpointslices") {
      res.writeHead(404, { "content-type": "application/json" }).end('{"kind":"Status","code":404}');
      return;
    }
    const selector = url.searchParams.get("labelSelector") ?? "";
    if (url.searchParams.get("watch") === "true") {
      const from = Number(url.searchParams.get("resourceVersion") ?? "0");
      res.writeHead(200, { "content-type": "application/json", "transfer-encoding": "chunked" });
      const oldest = this.history[0]?.rv ?? this.revision + 1;
      if (from + 1 < oldest && from < this.revision) {
        res.end(
          `${JSON.stringify({ type: "ERROR", object: { kind: "Status", code: 410, message: "too old resource version" } })}\n`,
        );
        return;
      }
      for (const e of this.history) {
        if (e.rv > from && matches(e.object, selector))
          res.write(`${JSON.stringify({ type: e.type, object: e.object })}\n`);
      }
      const watcher = { res, selector };
      this.watchers.add(watcher);
      req.on("close", () => this.watchers.delete(watcher));
      return;
    }
    const all = [...this.slices.values()]
      .filter((s) => matches(s, selector))
      .sort((a, b) => a.metadata.name.localeCompare(b.metadata.name));
    const start = Number(url.searchParams.get("continue") ?? "0");
    const items = all.slice(start, start + this.pageSize);
    const more = start + this.pageSize < all.length;
    res.writeHead(200, { "content-type": "application/json" }).end(
      JSON.stringify({
        apiVersion: "discovery.k8s.io/v1",
        kind: "EndpointSliceList",
        metadata: {
          resourceVersion: String(this.revision),
          ...(more ? { continue: String(start + this.pageSize) } : {}),
        },
        items,
      }),
    );
  }
}

function matches(slice: Slice, selector: string): boolean {
  const [key, value] = selector.split("=");
  return !key || slice.metadata.labels[key as string] === value;
}

/** A KubeConfig for the fake API server at `server` (a token, no TLS). */
export function kubeConfigFor(server: string): KubeConfig {
  const kc = new KubeConfig();
  kc.loadFromOptions({
    clusters: [{ name: "test", server, skipTLSVerify: true }],
    users: [{ name: "test", token: "test-token" }],
    contexts: [{ name: "test", cluster: "test", user: "test" }],
    currentContext: "test",
  });
  return kc;
}

/** The version of the @kubernetes/client-node that `import "@kubernetes/client-node"` loads here. */
function loadedClientNodeVersion(): string {
  let dir = dirname(fileURLToPath(import.meta.resolve("@kubernetes/client-node")));
  for (;;) {
    try {
      const pkg = JSON.parse(readFileSync(join(dir, "package.json"), "utf8")) as {
        name?: string;
        version: string;
      };
      if (pkg.name === "@kubernetes/client-node") return pkg.version;
    } catch {}
    const up = dirname(dir);
    if (up === dir) throw new Error("no package.json of @kubernetes/client-node above its entry");
    dir = up;
  }
}

/** The kubernetes:/// tests, with @kubernetes/client-node `major` (the one the resolver and the test import). */
export function describeKubernetesResolver(major: 1 | 2): void {
  describe(`@kubernetes/client-node ${major}.x`, () => {
    it(`is the one loaded: ${major}.x`, () => {
      assert.equal(Number(loadedClientNodeVersion().split(".")[0]), major);
    });
  });

  describe("kubernetes:/// targets", () => {
    it("parses service, namespace and port (number or name)", () => {
      assert.deepEqual(parseTarget("kubernetes:///rng-headless.demo:8081"), {
        scheme: "kubernetes",
        service: "rng-headless",
        namespace: "demo",
        port: 8081,
      });
      assert.deepEqual(parseTarget("k8s:///rng-headless.demo.svc.cluster.local:grpc"), {
        scheme: "kubernetes",
        service: "rng-headless",
        namespace: "demo",
        port: "grpc",
      });
      assert.deepEqual(parseTarget("kubernetes:///rng:8081"), {
        scheme: "kubernetes",
        service: "rng",
        namespace: undefined,
        port: 8081,
      });
      assert.throws(
        () => parseTarget("kubernetes://rng.demo:8081"),
        /must be followed by \/\/\/service\.namespace:port/,
      );
      assert.throws(() => parseTarget("kubernetes:///Rng_X.demo:8081"), /not a valid Service name/);
      assert.throws(
        () => parseTarget("kubernetes:///rng.demo"),
        /port \(number or name\) is missing|neither a port/,
      );
    });
  });

  describe("Kubernetes EndpointSlice resolver against a real list/watch API server", () => {
    const api = new FakeApiServer();
    let kubeConfig: KubeConfig;
    let pool: PoolTransport;
    const resolutions: ResolutionEvent[] = [];
    const latest = () => new Set(resolutions.at(-1)?.addresses ?? []);
    const ips = (prefix: string, n: number) => Array.from({ length: n }, (_, i) => `${prefix}.${i + 1}`);

    before(async () => {
      // 150 ready endpoints across 3 slices (listed 2 per page), one slice of another Service.
      api.upsert("rng-headless-a", ips("10.1.0", 50));
      api.upsert("rng-headless-b", ips("10.1.1", 50));
      api.upsert("rng-headless-c", ips("10.1.2", 50));
      api.upsert("other-svc", ips("10.9.0", 3), { service: "other" });
      kubeConfig = kubeConfigFor(await api.start());
      pool = createPoolTransport({
        target: "kubernetes:///rng-headless.demo:grpc",
        kubeConfig,
        minResolveIntervalMs: 50,
      });
      pool.on("resolution", (e) => resolutions.push(e));
    });
    after(async () => {
      await pool.close();
      await api.close();
    });

    it("lists every slice of the Service (paged) and publishes them as one set", async () => {
      await until(() => resolutions.length > 0, 5000, "first resolution");
      assert.equal(resolutions[0]?.addresses.length, 150, "one resolution with all 150, not slice by slice");
      assert.ok(!latest().has("10.9.0.1:8081"), "other Services' slices are not used");
      assert.ok(
        api.requests.some((r) => r.includes("continue=2")),
        "the second page was fetched",
      );
      assert.ok(
        api.requests.some((r) => r.includes("labelSelector=kubernetes.io%2Fservice-name%3Drng-headless")),
      );
    });

    it("applies watch events at once: a new ready pod, a pod turning unready, a deleted slice", async () => {
      await until(() => api.openWatches === 1, 5000, "watch open");
      api.upsert("rng-headless-d", ["10.1.3.1"]);
      await until(() => latest().has("10.1.3.1:8081"), 2000, "new pod");
      api.upsert("rng-headless-d", ["10.1.3.1"], { ready: false });
      await until(() => !latest().has("10.1.3.1:8081"), 2000, "unready pod leaves");
      api.delete("rng-headless-c");
      await until(() => latest().size === 100, 2000, "slice deleted");
    });

    it("resumes a watch the server ends, from the last resourceVersion", async () => {
      const lists = api.requests.filter((r) => !r.includes("watch=true")).length;
      api.dropWatches();
      await until(() => api.openWatches === 1, 5000, "watch reopened");
      const lastWatch = api.requests.filter((r) => r.includes("watch=true")).at(-1) ?? "";
      assert.match(lastWatch, /resourceVersion=\d+/);
      assert.equal(api.requests.filter((r) => !r.includes("watch=true")).length, lists, "no relist needed");
      api.upsert("rng-headless-e", ["10.1.4.1"]);
      await until(() => latest().has("10.1.4.1:8081"), 2000, "event after reconnect");
    });

    it("relists after 410 Gone", async () => {
      const lists = api.requests.filter((r) => !r.includes("watch=true")).length;
      // While no watch is open, a change happens and the server forgets it:
      // the client's resourceVersion is now older than the server's history.
      api.dropWatches();
      api.upsert("rng-headless-f", ["10.1.5.1"]);
      api.compact();
      api.upsert("rng-headless-g", ["10.1.6.1"]);
      await until(() => api.requests.filter((r) => !r.includes("watch=true")).length > lists, 5000, "relist");
      await until(
        () => latest().has("10.1.5.1:8081") && latest().has("10.1.6.1:8081"),
        2000,
        "state after relist",
      );
    });

    it("keeps the last good addresses while the API server is down, and reports it", async () => {
      const errors: string[] = [];
      const p = createPoolTransport({
        target: "kubernetes:///rng-headless.demo:8081",
        // A port nothing listens on (not a low one: fetch refuses ports such as 1 outright).
        kubeConfig: kubeConfigFor(`http://127.0.0.1:${await freePort()}`),
        minResolveIntervalMs: 50,
      });
      p.on("resolutionError", (e) => errors.push(e.error.rawMessage));
      try {
        await until(() => errors.length > 0, 5000, "error reported");
        assert.match(
          errors[0] ?? "",
          /^kubernetes: EndpointSlices of Service demo\/rng-headless: .*ECONNREFUSED/,
        );
      } finally {
        await p.close();
      }
    });
  });
}
