import assert from "node:assert/strict";
import * as net from "node:net";
import { after, before, describe, it } from "node:test";
import { ConnectivityState, createPoolTransport, type EndpointStateEvent } from "@rngbalance/dns-pool";
import { type RngServerProcess, spawnRngServer } from "@rngbalance/rng-fleet";
import { until } from "./support.js";

/**
 * A TCP proxy that can turn into a black hole: connections stay open but no
 * byte moves either way, as when a node vanishes without a TCP reset.
 */
async function blackHoleProxy(target: { host: string; port: number }) {
  let dropping = false;
  const sockets = new Set<net.Socket>();
  const server = net.createServer((client) => {
    const upstream = net.connect(target);
    for (const [from, to] of [
      [client, upstream],
      [upstream, client],
    ] as const) {
      sockets.add(from);
      from.on("data", (chunk) => {
        if (!dropping) to.write(chunk);
      });
      from.on("close", () => to.destroy());
      from.on("error", () => {});
    }
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.3", resolve));
  return {
    address: `127.0.0.3:${(server.address() as net.AddressInfo).port}`,
    blackHole: () => {
      dropping = true;
    },
    close: () => {
      for (const s of sockets) s.destroy();
      return new Promise((resolve) => server.close(resolve));
    },
  };
}

describe("keepalive", () => {
  let server: RngServerProcess;
  before(async () => {
    server = await spawnRngServer({ host: "127.0.0.2" });
  });
  after(() => server.stop());

  it("detects a black-holed connection with unanswered PINGs; without keepalive it stays READY", async () => {
    const withPings = await blackHoleProxy(server);
    const without = await blackHoleProxy(server);
    const keepalive = { timeMs: 200, timeoutMs: 200, permitWithoutCalls: true };
    const pinged = createPoolTransport({ target: `ipv4:${withPings.address}`, connect: "eager", keepalive });
    const silent = createPoolTransport({ target: `ipv4:${without.address}`, connect: "eager" });
    const lost: EndpointStateEvent[] = [];
    pinged.on("endpointState", (e) => e.previous === ConnectivityState.READY && lost.push(e));
    try {
      const ready = (p: typeof pinged) => p.stats().endpoints[0]?.state === ConnectivityState.READY;
      await until(() => ready(pinged) && ready(silent), 5000, "both READY");
      withPings.blackHole();
      without.blackHole();
      const tookMs = await until(() => lost.length > 0, 3000, "keepalive notices");
      assert.match(
        String(lost[0]?.error?.message),
        /keepalive ping to 127\.0\.0\.3:\d+ not answered within 200 ms/,
      );
      assert.ok(tookMs < 1500, `noticed after ${tookMs} ms`);
      assert.ok(ready(silent), "without keepalive nothing notices the dead connection");
    } finally {
      await withPings.close();
      await without.close();
      await Promise.all([pinged.close(), silent.close()]);
    }
  });
});
