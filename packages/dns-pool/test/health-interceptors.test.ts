/**
 * Which interceptors run on the pool's own health watches: a real HTTP/2
 * server on loopback serving grpc.health.v1 and the Rng service, recording
 * every request it gets.
 */
import assert from "node:assert/strict";
import * as http2 from "node:http2";
import type { AddressInfo } from "node:net";
import { after, before, describe, it } from "node:test";
import { Code, ConnectError, createClient, type Interceptor } from "@connectrpc/connect";
import { connectNodeAdapter } from "@connectrpc/connect-node";
import { createPoolTransport, POOL_HEALTH_CHECK, type PoolTransport } from "@rngbalance/dns-pool";
import { Health, HealthCheckResponse_ServingStatus } from "@rngbalance/grpc-protos/grpc/health/v1";
import { RngService } from "@rngbalance/proto";
import { until } from "./support.js";

/** What the server saw of one request. */
interface Seen {
  readonly path: string;
  readonly contentType: string | null;
  readonly marked: string | null;
  readonly authorization: string | null;
}

describe("interceptors and health checks", () => {
  const seen: Seen[] = [];
  let server: http2.Http2Server;
  let target = "";
  const pools: PoolTransport[] = [];

  before(async () => {
    server = http2.createServer(
      connectNodeAdapter({
        routes: (router) => {
          router.service(RngService, {
            async generate() {
              return { rn: 1n, instance: "one" };
            },
          });
          router.service(Health, {
            async check() {
              return { status: HealthCheckResponse_ServingStatus.SERVING };
            },
            async *watch(req, ctx) {
              // Service "secured" is behind auth, as on a server with one auth middleware for every path.
              if (req.service === "secured" && ctx.requestHeader.get("authorization") !== "Bearer health") {
                throw new ConnectError("no credentials", Code.Unauthenticated);
              }
              yield { status: HealthCheckResponse_ServingStatus.SERVING };
              await new Promise((resolve) => ctx.signal.addEventListener("abort", resolve));
            },
          });
        },
        interceptors: [
          (next) => async (req) => {
            seen.push({
              path: new URL(req.url).pathname,
              contentType: req.header.get("content-type"),
              marked: req.header.get("x-marked"),
              authorization: req.header.get("authorization"),
            });
            return next(req);
          },
        ],
      }),
    );
    await new Promise<void>((r) => server.listen(0, "127.0.0.4", r));
    target = `ipv4:127.0.0.4:${(server.address() as AddressInfo).port}`;
  });

  after(async () => {
    await Promise.all(pools.map((p) => p.close()));
    await new Promise((r) => server.close(r));
  });

  /** An interceptor that marks requests and records whether each was a pool health check. */
  function marking(log: { path: string; healthCheck: boolean }[]): Interceptor {
    return (next) => async (req) => {
      log.push({ path: req.method.name, healthCheck: req.contextValues.get(POOL_HEALTH_CHECK) });
      req.header.set("x-marked", "yes");
      return next(req);
    };
  }

  const watches = () => seen.filter((s) => s.path === "/grpc.health.v1.Health/Watch");

  it("the pool's interceptors run on the application's calls and not on health watches", async () => {
    seen.length = 0;
    const log: { path: string; healthCheck: boolean }[] = [];
    const pool = createPoolTransport({
      target,
      interceptors: [marking(log)],
    });
    pools.push(pool);
    await createClient(RngService, pool).generate({}, { timeoutMs: 5000 });
    assert.equal(pool.stats().endpoints[0]?.health, "SERVING", "the call waited for the first health answer");
    assert.deepEqual(log, [{ path: "Generate", healthCheck: false }], "the interceptor saw the call only");
    assert.equal(seen.find((s) => s.path === "/rng.v1.RngService/Generate")?.marked, "yes");
    assert.equal(watches().length, 1);
    assert.equal(watches()[0]?.marked, null, "the watch went out without the pool's interceptor");
  });

  it("a health service behind auth: without healthCheck.interceptors the endpoint never gets READY", async () => {
    seen.length = 0;
    const auth: Interceptor = (next) => async (req) => {
      req.header.set("authorization", "Bearer health");
      return next(req);
    };
    const pool = createPoolTransport({
      target,
      interceptors: [auth],
      healthCheck: { service: "secured" },
      connect: "eager",
    });
    pools.push(pool);
    await until(() => watches().length > 0, 5000, "a health watch");
    assert.equal(watches()[0]?.authorization, null);
    await assert.rejects(createClient(RngService, pool).generate({}, { timeoutMs: 300 }), {
      code: Code.DeadlineExceeded,
    });
    assert.equal(pool.stats().endpoints[0]?.health, "PENDING", "UNAUTHENTICATED is no answer");
  });

  it("healthCheck.interceptors run on the watches, which carry POOL_HEALTH_CHECK", async () => {
    seen.length = 0;
    const log: { path: string; healthCheck: boolean }[] = [];
    const auth: Interceptor = (next) => async (req) => {
      req.header.set("authorization", "Bearer health");
      return next(req);
    };
    const shared = marking(log);
    const pool = createPoolTransport({
      target,
      interceptors: [shared],
      healthCheck: { service: "secured", interceptors: [shared, auth] },
      connect: "eager",
    });
    pools.push(pool);
    await until(() => pool.stats().endpoints[0]?.health === "SERVING", 5000, "SERVING");
    await createClient(RngService, pool).generate({}, { timeoutMs: 5000 });
    assert.deepEqual(log, [
      { path: "Watch", healthCheck: true },
      { path: "Generate", healthCheck: false },
    ]);
    assert.deepEqual(
      watches().map((w) => [w.marked, w.authorization]),
      [["yes", "Bearer health"]],
    );
    const call = seen.find((s) => s.path === "/rng.v1.RngService/Generate");
    assert.equal(call?.authorization, null, "the health interceptor is not the calls'");
  });

  it("health watches speak binary gRPC whatever the calls' protocol and format", async () => {
    seen.length = 0;
    const pool = createPoolTransport({
      target,
      protocol: "connect",
      useBinaryFormat: false,
      healthCheck: {
        interceptors: [
          (next) => async (req) => {
            req.header.set("authorization", "Bearer health");
            return next(req);
          },
        ],
      },
      connect: "eager",
    });
    pools.push(pool);
    await until(() => pool.stats().endpoints[0]?.health === "SERVING", 5000, "SERVING");
    await createClient(RngService, pool).generate({}, { timeoutMs: 5000 });
    assert.equal(watches()[0]?.contentType, "application/grpc+proto");
    assert.equal(seen.find((s) => s.path === "/rng.v1.RngService/Generate")?.contentType, "application/json");
  });
});
