// gRFC A61 Happy Eyeballs in the pool's pick_first, with real TCP: a real
// DNS server answering A and AAAA records, a real rng-server process on the
// IPv6 loopback (::1) and IPv4 addresses blackholed with nftables (SYNs
// dropped: a connect just waits, as to a dead node). Skipped with the reason
// where nftables cannot run (not root, nft missing).
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { createClient } from "@connectrpc/connect";
import { createPoolTransport, type EndpointStateEvent } from "@rngbalance/dns-pool";
import { EmbeddedDnsServer } from "@rngbalance/dns-test-server";
import { Rng } from "@rngbalance/proto";
import { type RngServerProcess, spawnRngServer } from "@rngbalance/rng-fleet";
import { dropPackets, type PacketDrop, probeFaultSupport } from "../src/index.js";

const support = probeFaultSupport();
const skip = support.ok ? false : support.reason;
/** Addresses nothing answers: each has its own drop rule on the server's port. */
const BLACKHOLED = ["127.0.7.7", "127.0.7.8"];
const CONNECT_TIMEOUT_MS = 2000;

describe("pick_first Happy Eyeballs (gRFC A61) over a blackholed address", { skip }, () => {
  let server: RngServerProcess | undefined;
  let dns: EmbeddedDnsServer | undefined;
  const drops: PacketDrop[] = [];
  const figures: string[] = [];

  before(async () => {
    if (skip) return;
    server = await spawnRngServer({ host: "::1" });
    for (const host of BLACKHOLED) drops.push(await dropPackets({ host, port: server.port }));
    dns = await EmbeddedDnsServer.start();
    // A first (both blackholed), then AAAA: RFC 8305 interleaving tries 127.0.7.7, ::1, 127.0.7.8.
    dns.setRecords("dual", { a: BLACKHOLED, aaaa: ["::1"], ttl: 30 });
  });

  after(async () => {
    for (const line of figures) console.log(line);
    await Promise.all(drops.map((d) => d.remove()));
    await server?.stop();
    await dns?.close();
  });

  /** The first call's time, and which addresses the pool tried to connect. */
  async function firstCall(connectionAttemptDelayMs: number) {
    if (!server || !dns) throw new Error("not set up");
    const pool = createPoolTransport({
      target: `dns://${dns.address}/dual:${server.port}`,
      policy: "pick_first",
      pickFirst: { connectionAttemptDelayMs },
      connectTimeoutMs: CONNECT_TIMEOUT_MS,
    });
    const changes: EndpointStateEvent[] = [];
    pool.on("endpointState", (e) => changes.push(e));
    try {
      const started = performance.now();
      const answer = await createClient(Rng, pool).rng({}, { timeoutMs: 10_000 });
      const ms = performance.now() - started;
      const tried = [...new Set(changes.filter((c) => c.state === "CONNECTING").map((c) => c.address))];
      return { ms, rn: answer.RN, tried, changes: [...changes], stats: pool.stats() };
    } finally {
      await pool.close();
    }
  }

  it("with the 250 ms stagger, ::1 (second in RFC 8305 order) answers about 250 ms in; the blackholed attempt is cancelled and the third address never tried", async () => {
    const r = await firstCall(250);
    figures.push(
      `happy eyeballs, first call with 127.0.7.7 blackholed (A, AAAA interleaved): ${r.ms.toFixed(0)} ms with connectionAttemptDelayMs 250`,
    );
    assert.equal(r.rn, server?.rn);
    assert.ok(r.ms >= 240, `not before the delay: ${r.ms.toFixed(0)} ms`);
    assert.ok(r.ms < 1500, `well before the ${CONNECT_TIMEOUT_MS} ms connect timeout: ${r.ms.toFixed(0)} ms`);
    assert.deepEqual(r.tried, [`127.0.7.7:${server?.port}`, `[::1]:${server?.port}`]);
    const loser = r.changes.filter((c) => c.address === `127.0.7.7:${server?.port}`).map((c) => c.state);
    assert.deepEqual(loser, ["CONNECTING", "IDLE"], "cancelled, not failed");
  });

  it("without the stagger (0), the blackholed address costs the whole connect timeout", async () => {
    const r = await firstCall(0);
    figures.push(
      `happy eyeballs, first call with 127.0.7.7 blackholed: ${r.ms.toFixed(0)} ms with connectionAttemptDelayMs 0 (connectTimeoutMs ${CONNECT_TIMEOUT_MS})`,
    );
    assert.equal(r.rn, server?.rn);
    assert.ok(r.ms >= CONNECT_TIMEOUT_MS - 50, `waited for the timeout: ${r.ms.toFixed(0)} ms`);
    assert.deepEqual(r.tried, [`127.0.7.7:${server?.port}`, `[::1]:${server?.port}`]);
  });
});
