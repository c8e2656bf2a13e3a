// Real namespaces, real nftables rules, real TCP: skipped with the reason
// where they cannot run (not root, no ip, nft missing and not installable).
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { once } from "node:events";
import { test } from "node:test";
import { fileURLToPath } from "node:url";
import {
  createNetworkNamespace,
  dropPackets,
  listNetworkNamespaces,
  probeFaultSupport,
} from "../src/index.js";

const support = probeFaultSupport();
const skip = support.ok ? false : support.reason;

// A TCP server on host:0 inside the namespace; prints its port.
const SERVER = `const s = require("node:net").createServer((c) => { c.on("error", () => {}); c.end("hi"); }); s.listen(0, process.argv[1], () => console.log(s.address().port));`;
// One TCP connect; prints "connected" or "timeout" (after 1500 ms: the SYN is being dropped).
const CONNECT = `const c = require("node:net").connect(Number(process.argv[2]), process.argv[1]); const t = setTimeout(() => { console.log("timeout"); process.exit(0); }, 1500); c.on("connect", () => { clearTimeout(t); console.log("connected"); c.destroy(); }); c.on("error", (e) => { clearTimeout(t); console.log("error " + e.code); });`;

async function startServer(ns: Awaited<ReturnType<typeof createNetworkNamespace>>, host: string) {
  const child = ns.spawn(process.execPath, ["-e", SERVER, host], { stdio: ["ignore", "pipe", "inherit"] });
  const [chunk] = (await once(child.stdout as NodeJS.ReadableStream, "data")) as [Buffer];
  return { child, port: Number(chunk.toString().trim()) };
}

test("a namespace has its own loopback up, and destroy() deletes it", { skip }, async () => {
  const ns = await createNetworkNamespace();
  try {
    assert.ok((await listNetworkNamespaces()).includes(ns.name), "ip netns list shows it");
    const lo = await ns.exec("ip", ["-o", "addr", "show", "dev", "lo"]);
    assert.match(lo, /inet 127\.0\.0\.1\/8/);
    assert.match(await ns.exec("ip", ["link", "show", "lo"]), /[<,]UP[,>]/);
    // Its ruleset is its own: empty, whatever the machine's has.
    assert.equal((await ns.exec("nft", ["list", "ruleset"])).trim(), "");
  } finally {
    await ns.destroy();
  }
  assert.ok(!(await listNetworkNamespaces()).includes(ns.name), "gone from ip netns list");
});

test("a blackhole drops a TCP connect to one pod in the namespace; other pods still connect; removing it restores", {
  skip,
}, async () => {
  const ns = await createNetworkNamespace();
  try {
    const a = await startServer(ns, "127.0.0.2");
    const b = await startServer(ns, "127.0.0.3");
    const connect = async (host: string, port: number) =>
      (await ns.exec(process.execPath, ["-e", CONNECT, host, String(port)])).trim();
    assert.equal(await connect("127.0.0.2", a.port), "connected", "before the rule");
    const drop = await dropPackets({ host: "127.0.0.2", port: a.port, netns: ns.name });
    try {
      assert.match(
        await ns.exec("nft", ["list", "table", "inet", drop.table]),
        /ip daddr 127\.0\.0\.2 tcp dport \d+ drop/,
      );
      assert.equal(await connect("127.0.0.2", a.port), "timeout", "no RST, no ICMP: the connect just waits");
      assert.equal(await connect("127.0.0.3", b.port), "connected", "another pod is untouched");
    } finally {
      await drop.remove();
    }
    assert.equal(await connect("127.0.0.2", a.port), "connected", "after remove()");
    assert.equal((await ns.exec("nft", ["list", "ruleset"])).trim(), "", "the table is gone");
  } finally {
    await ns.destroy();
  }
  assert.ok(!(await listNetworkNamespaces()).includes(ns.name));
});

test("a random share of the packets: numgen random mod 100 < N", { skip }, async () => {
  const ns = await createNetworkNamespace();
  try {
    const drop = await dropPackets({ host: "127.0.0.2", port: 8080, percent: 5, netns: ns.name });
    try {
      const rules = await ns.exec("nft", ["list", "table", "inet", drop.table]);
      assert.match(rules, /ip daddr 127\.0\.0\.2 tcp dport 8080 numgen random mod 100 < 5 drop/);
      assert.match(rules, /ip saddr 127\.0\.0\.2 tcp sport 8080 numgen random mod 100 < 5 drop/);
    } finally {
      await drop.remove();
    }
  } finally {
    await ns.destroy();
  }
});

test("a run that exits (or is killed by SIGTERM) without cleaning up leaves no namespace or rule", {
  skip,
}, async () => {
  const index = fileURLToPath(new URL("../dist/index.js", import.meta.url));
  for (const ending of ["process.exit(0)", "process.kill(process.pid, 'SIGTERM')"]) {
    const script = `import(${JSON.stringify(index)}).then(async (f) => { const ns = await f.createNetworkNamespace(); await f.dropPackets({ host: "127.0.0.2", port: 9, netns: ns.name }); console.log(ns.name); ${ending}; });`;
    const run = spawnSync(process.execPath, ["-e", script], { encoding: "utf8", timeout: 30_000 });
    const name = run.stdout.trim();
    assert.match(name, /^rngf-/, `${ending}: the child made a namespace (stderr: ${run.stderr})`);
    assert.ok(!(await listNetworkNamespaces()).includes(name), `${ending}: ${name} is gone`);
  }
});

test("dropPackets rejects what it cannot express, saying what to fix", async () => {
  await assert.rejects(dropPackets({ host: "pod-a", port: 80 }), /host must be an IP address, got "pod-a"/);
  await assert.rejects(
    dropPackets({ host: "127.0.0.2", port: 0 }),
    /port must be an integer in 1-65535, got 0/,
  );
  await assert.rejects(
    dropPackets({ host: "127.0.0.2", port: 80, percent: 0 }),
    /percent must be an integer in 1-100, got 0/,
  );
});

test("probeFaultSupport says whether faults can run, and why not", () => {
  if (support.ok) assert.equal(process.getuid?.(), 0);
  else assert.ok(support.reason.length > 0);
});
