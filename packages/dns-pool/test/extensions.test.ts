import assert from "node:assert/strict";
import * as http2 from "node:http2";
import type { AddressInfo } from "node:net";
import { after, before, describe, it } from "node:test";
import { Code, ConnectError, createClient } from "@connectrpc/connect";
import { connectNodeAdapter } from "@connectrpc/connect-node";
import {
  type CallResult,
  createPoolTransport,
  EMPTY_PICKER,
  type EndpointInfo,
  type PoolTransport,
  registerPolicy,
  registerResolver,
  StaticResolver,
} from "@rngbalance/dns-pool";
import { RngService } from "@rngbalance/proto";
import { RoundRobinPicker } from "../src/balancer/picker.js";

/** A user's policy: round robin, recording every call's outcome through the onDone hook. */
const done: { address: string; result: CallResult }[] = [];
registerPolicy("recording_round_robin", () => {
  const cursor = { next: 0 };
  return {
    name: "recording_round_robin",
    buildPicker(ready: readonly EndpointInfo[]) {
      if (ready.length === 0) return EMPTY_PICKER;
      const rr = new RoundRobinPicker(ready, cursor);
      return {
        pick: () => rr.pick(),
        onDone: (endpoint: EndpointInfo, result: CallResult) =>
          done.push({ address: endpoint.address, result }),
      };
    },
  };
});

/** A user's resolver: the addresses in the target, comma-separated (the `test-list:` scheme). */
registerResolver("test-list", {
  defaultAuthority: () => "rng.test:8081",
  create: (target) =>
    new StaticResolver(
      target.endpoint.split(",").map((hp) => {
        const i = hp.lastIndexOf(":");
        return { host: hp.slice(0, i), port: Number(hp.slice(i + 1)) };
      }),
    ),
});

describe("extension points in real calls: a registered resolver and a policy with onDone", () => {
  const servers: http2.Http2Server[] = [];
  const pools: PoolTransport[] = [];
  let target = "";

  before(async () => {
    const addresses: string[] = [];
    for (const host of ["127.0.0.2", "127.0.0.3"]) {
      const server = http2.createServer(
        connectNodeAdapter({
          routes: (router) =>
            router.service(RngService, {
              async generate(req, ctx) {
                ctx.responseTrailer.set("x-load", host);
                if (req.delayMs === 7) throw new ConnectError("seven", Code.FailedPrecondition);
                return { rn: 1n, instance: host };
              },
              async *generateStream(req, ctx) {
                ctx.responseTrailer.set("x-load", host);
                for (let i = 0; i < req.count; i++) yield { rn: 1n, instance: host, sequence: i };
              },
            }),
        }),
      );
      await new Promise<void>((r) => server.listen(0, host, r));
      servers.push(server);
      addresses.push(`${host}:${(server.address() as AddressInfo).port}`);
    }
    target = `test-list:${addresses.join(",")}`;
  });

  after(async () => {
    await Promise.all(pools.map((p) => p.close()));
    await Promise.all(servers.map((s) => new Promise((r) => s.close(r))));
  });

  for (const fastPath of [true, false]) {
    it(`unary (${fastPath ? "fast path" : "connect-node"}): onDone gets latency, outcome and trailers`, async () => {
      const pool = createPoolTransport({
        target,
        policy: "recording_round_robin",
        fastPath,
        healthCheck: false,
      });
      pools.push(pool);
      const client = createClient(RngService, pool);
      done.length = 0;
      const instances = [];
      for (let i = 0; i < 4; i++) instances.push((await client.generate({})).instance);
      assert.deepEqual(new Set(instances), new Set(["127.0.0.2", "127.0.0.3"]), "the resolver's addresses");
      assert.equal(done.length, 4);
      for (const { address, result } of done) {
        assert.equal(result.ok, true);
        assert.equal(result.code, undefined);
        assert.ok(result.latencyMs >= 0);
        assert.equal(result.trailers?.get("x-load"), address.split(":")[0], "trailers of that endpoint");
      }
      await assert.rejects(client.generate({ delayMs: 7 }), { code: Code.FailedPrecondition });
      const failed = done.at(-1)?.result;
      assert.equal(failed?.ok, false);
      assert.equal(failed?.code, Code.FailedPrecondition);
      assert.ok(failed?.trailers?.get("x-load"), "an error's metadata carries the trailers");
    });
  }

  it("stream: onDone when the response stream ends", async () => {
    const pool = createPoolTransport({ target, policy: "recording_round_robin", healthCheck: false });
    pools.push(pool);
    const client = createClient(RngService, pool);
    done.length = 0;
    let n = 0;
    for await (const _ of client.generateStream({ count: 3 })) {
      n++;
      assert.equal(done.length, 0, "not before the end");
    }
    assert.equal(n, 3);
    assert.equal(done.length, 1);
    assert.equal(done[0]?.result.ok, true);
    assert.ok(done[0]?.result.trailers?.get("x-load"));
  });
});
