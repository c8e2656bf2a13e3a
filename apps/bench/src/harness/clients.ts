import { create, fromBinary, toBinary } from "@bufbuild/protobuf";
import type { Transport } from "@connectrpc/connect";
import type { PoolTransport } from "@rngbalance/dns-pool";
import { type RN, RNSchema, Rng, type Source, SourceSchema } from "@rngbalance/proto";
import { type CellConfig, RNG_PATH } from "./cell.js";
import { installSdk, type TelemetryMode } from "./sdk.js";

// Each client loads only its own library: a child process's start-up, CPU
// and RSS then owe nothing to the libraries of the other clients.

/** One client under test: `call()` makes one unary Rng call. */
export interface Caller {
  call(): Promise<unknown>;
  /** Resolves once the client can take calls on every server it will use. */
  ready(timeoutMs: number): Promise<void>;
  /** Calls per endpoint so far, where the client can tell. */
  spread(): number[] | undefined;
  close(): Promise<void>;
}

/** The client a cell asks for. */
export function createCaller(config: CellConfig): Promise<Caller> {
  switch (config.client) {
    case "pool-rr":
      return poolCaller(
        config.poolTarget,
        "round_robin",
        "grpc",
        config.addresses.length,
        config.healthCheck,
      );
    case "pool-lr":
      return poolCaller(config.poolTarget, "least_request", "grpc", config.addresses.length);
    case "pool-connect":
      return poolCaller(config.poolTarget, "round_robin", "connect", config.addresses.length);
    case "pool-connect-json":
      return poolCaller(config.poolTarget, "round_robin", "connect-json", config.addresses.length);
    case "pool-otel-off":
      return poolCaller(
        config.poolTarget,
        "round_robin",
        "grpc",
        config.addresses.length,
        config.healthCheck,
        "off",
      );
    case "pool-metrics":
      return poolCaller(
        config.poolTarget,
        "round_robin",
        "grpc",
        config.addresses.length,
        config.healthCheck,
        "metrics",
      );
    case "pool-tracing":
      return poolCaller(
        config.poolTarget,
        "round_robin",
        "grpc",
        config.addresses.length,
        config.healthCheck,
        "tracing",
      );
    case "stock-connect":
      return stockConnectCaller(config.addresses[0] as string);
    case "grpc-js":
      return grpcJsCaller(config.addresses);
    case "raw-http2":
      return rawHttp2Caller(config.addresses);
    case "connect-h1":
      return connectH1Caller(config.addresses[0] as string);
  }
}

async function poolCaller(
  target: string,
  policy: "round_robin" | "least_request",
  protocol: "grpc" | "connect" | "connect-json",
  expected: number,
  healthCheck = true,
  telemetry: "api" | "off" | TelemetryMode = "api",
): Promise<Caller> {
  const { createClient } = await import("@connectrpc/connect");
  const { createPoolTransport } = await import("@rngbalance/dns-pool");
  const { poolReady } = await import("./pool-ready.js");
  // The SDK goes in before the pool, as an application installs it.
  const sdk = telemetry === "api" || telemetry === "off" ? undefined : await installSdk(telemetry);
  const pool: PoolTransport = createPoolTransport({
    target,
    policy,
    protocol: protocol === "connect-json" ? "connect" : protocol,
    ...(protocol === "connect-json" ? { useBinaryFormat: false } : {}),
    connect: "eager",
    ...(healthCheck ? {} : { healthCheck: false }),
    ...(telemetry === "off" ? { telemetry: false as const } : {}),
  });
  const client = createClient(Rng, pool);
  return {
    call: () => client.rng({}),
    ready: (timeoutMs) => poolReady(pool, expected, timeoutMs),
    spread: () => pool.stats().endpoints.map((e) => e.calls),
    close: async () => {
      await pool.close();
      await sdk?.();
    },
  };
}

async function stockConnectCaller(address: string): Promise<Caller> {
  const { createGrpcTransport } = await import("@connectrpc/connect-node");
  return transportCaller(createGrpcTransport({ baseUrl: `http://${address}` }));
}

async function connectH1Caller(address: string): Promise<Caller> {
  const { createConnectTransport } = await import("@connectrpc/connect-node");
  // Node's global agent keeps connections alive (Node 19+): one per call in flight, reused.
  return transportCaller(
    createConnectTransport({ baseUrl: `http://${address}`, httpVersion: "1.1", useBinaryFormat: true }),
  );
}

/** A caller over one stock connect-node transport to one server: nothing to spread, nothing to close. */
async function transportCaller(transport: Transport): Promise<Caller> {
  const { createClient } = await import("@connectrpc/connect");
  const client = createClient(Rng, transport);
  return {
    call: () => client.rng({}),
    async ready() {
      await client.rng({});
    },
    spread: () => undefined,
    close: async () => {},
  };
}

async function grpcJsCaller(addresses: readonly string[]): Promise<Caller> {
  const grpc = await import("@grpc/grpc-js");
  // grpc-js resolves dns: names with the system resolver only (no custom
  // DNS server port), and no root means no /etc/hosts entry: the same three
  // addresses go in as an ipv4: target, balanced with round_robin.
  const target = `ipv4:${addresses.join(",")}`;
  const client = new grpc.Client(target, grpc.credentials.createInsecure(), {
    "grpc.service_config": JSON.stringify({ loadBalancingConfig: [{ round_robin: {} }] }),
  });
  const serialize = (m: Source) => Buffer.from(toBinary(SourceSchema, m));
  const deserialize = (b: Buffer) => fromBinary(RNSchema, b);
  const call = () =>
    new Promise<RN>((resolve, reject) => {
      client.makeUnaryRequest(RNG_PATH, serialize, deserialize, create(SourceSchema), (err, value) => {
        if (err) reject(err);
        else resolve(value as RN);
      });
    });
  return {
    call,
    async ready(timeoutMs) {
      await new Promise<void>((resolve, reject) =>
        client.waitForReady(Date.now() + timeoutMs, (err) => (err ? reject(err) : resolve())),
      );
      // round_robin connects every subchannel; a few calls let them all come up.
      for (let i = 0; i < addresses.length * 2; i++) await call();
    },
    spread: () => undefined,
    close: async () => client.close(),
  };
}

async function rawHttp2Caller(addresses: readonly string[]): Promise<Caller> {
  const http2 = await import("node:http2");
  const sessions = addresses.map((a) => http2.connect(`http://${a}`));
  for (const s of sessions) s.on("error", () => {});
  const headers = {
    ":method": "POST",
    ":path": RNG_PATH,
    "content-type": "application/grpc+proto",
    te: "trailers",
  };
  let next = 0;
  const call = () =>
    new Promise<RN>((resolve, reject) => {
      const session = sessions[next++ % sessions.length] as import("node:http2").ClientHttp2Session;
      const body = toBinary(SourceSchema, create(SourceSchema));
      const frame = Buffer.allocUnsafe(5 + body.length);
      frame[0] = 0;
      frame.writeUInt32BE(body.length, 1);
      frame.set(body, 5);
      const stream = session.request(headers);
      let status: unknown;
      const chunks: Buffer[] = [];
      stream.on("response", (h) => {
        status = h["grpc-status"]; // trailers-only responses
      });
      stream.on("trailers", (t) => {
        status = t["grpc-status"];
      });
      stream.on("data", (c: Buffer) => chunks.push(c));
      stream.on("error", reject);
      stream.on("close", () => {
        if (status !== "0") return reject(new Error(`grpc-status ${String(status)}`));
        const buf = chunks.length === 1 ? (chunks[0] as Buffer) : Buffer.concat(chunks);
        resolve(fromBinary(RNSchema, buf.subarray(5, 5 + buf.readUInt32BE(1))));
      });
      stream.end(frame);
    });
  return {
    call,
    async ready() {
      for (let i = 0; i < sessions.length; i++) await call();
    },
    spread: () => undefined,
    close: async () => {
      for (const s of sessions) s.close();
    },
  };
}
