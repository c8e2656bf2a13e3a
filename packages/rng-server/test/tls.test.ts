/**
 * The --tls-* flags: the files are read at start (a missing or bad one is
 * a ConfigError that names the flag and file), and the program serves TLS
 * and mutual TLS with them.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { Code, ConnectError, createClient } from "@connectrpc/connect";
import { createConnectTransport, createGrpcTransport } from "@connectrpc/connect-node";
import { Rng } from "@rngbalance/proto";
import {
  createTestCertificates,
  runNode,
  spawnJsonLogServer,
  type TestCertificates,
} from "@rngbalance/testkit";
import { ConfigError, parseServerConfig } from "../src/index.js";

let certs: TestCertificates;
before(() => {
  certs = createTestCertificates();
});
after(() => certs.dispose());

const pem = (name: string) => join(certs.dir, name);

/**
 * This package's `main` entry as a child process, ready once it logs
 * "listening", as @rngbalance/rng-fleet's spawnRngServer does (that package
 * depends on this one, so this one's tests do not import it: no cycle).
 */
async function spawnRngServer(options: { args: string[]; env: Record<string, string> }) {
  const server = await spawnJsonLogServer({
    main: join(import.meta.dirname, "../dist/main.js"),
    name: "rng-server",
    args: ["--host", "127.0.0.1", "--port", "0", ...options.args],
    env: options.env,
  });
  return Object.assign(server, { rn: BigInt(String(server.ready.rn)) });
}

/** The ConfigError message parseServerConfig throws for `argv`. */
function configError(argv: string[], env: NodeJS.ProcessEnv = {}): string {
  try {
    parseServerConfig(argv, env);
  } catch (err) {
    assert.ok(err instanceof ConfigError, String(err));
    return err.message;
  }
  assert.fail(`${argv.join(" ")} was accepted`);
}

describe("rng-server --tls-* flags", () => {
  it("read the certificate, key and CA files, from flags or RNG_TLS_* variables; none means cleartext", () => {
    const none = parseServerConfig([], {});
    assert.ok(!none.help);
    assert.equal(none.config.tls, undefined);
    const parsed = parseServerConfig(
      ["--tls-cert", pem("server.pem"), "--tls-key", pem("server-key.pem"), "--tls-client-auth", "require"],
      { RNG_TLS_CA: pem("ca.pem") },
    );
    assert.ok(!parsed.help);
    assert.deepEqual(parsed.config.tls, {
      cert: certs.server.cert,
      key: certs.server.key,
      ca: certs.ca.cert,
      clientAuth: "require",
    });
  });

  it("refuse missing files, a key that is not the certificate's, and flags that do not go together", () => {
    const missing = join(certs.dir, "nope.pem");
    assert.equal(
      configError(["--tls-cert", missing, "--tls-key", pem("server-key.pem")]),
      `--tls-cert ${missing}: cannot read it (no such file)`,
    );
    assert.equal(
      configError(["--tls-cert", pem("server.pem"), "--tls-key", certs.dir]),
      `--tls-key ${certs.dir}: cannot read it (EISDIR: illegal operation on a directory, read)`,
    );
    assert.match(
      configError(["--tls-cert", pem("server.pem"), "--tls-key", pem("client-key.pem")]),
      /^--tls-cert .*server\.pem, --tls-key .*client-key\.pem: the key, cert and ca do not make a TLS context: .*key values mismatch \(they must be PEM files, the key the certificate's\)$/,
    );
    assert.match(
      configError(["--tls-cert", pem("ca.pem"), "--tls-key", pem("ca.pem")]),
      /--tls-key .*ca\.pem: the key, cert and ca do not make a TLS context/,
    );
    assert.equal(
      configError(["--tls-cert", pem("server.pem")]),
      "--tls-cert and --tls-key go together: give both (or neither, for cleartext)",
    );
    assert.equal(
      configError([], { RNG_TLS_CLIENT_AUTH: "require" }),
      "--tls-ca and --tls-client-auth need TLS: give --tls-cert and --tls-key too",
    );
    assert.equal(
      configError([
        "--tls-cert",
        pem("server.pem"),
        "--tls-key",
        pem("server-key.pem"),
        "--tls-client-auth",
        "request",
      ]),
      "--tls-client-auth request needs --tls-ca: the CA certificates client certificates must chain to",
    );
    assert.match(configError(["--tls-client-auth", "maybe"]), /--tls-client-auth/);
  });

  it("the program exits 2 naming an unreadable file, and serves mutual TLS given the files", async () => {
    const bad = await runNode(join(import.meta.dirname, "../dist/main.js"), [
      "--tls-cert",
      pem("missing.pem"),
      "--tls-key",
      pem("server-key.pem"),
    ]);
    assert.equal(bad.code, 2);
    assert.match(bad.stderr, /^rng-server: --tls-cert .*missing\.pem: cannot read it \(no such file\)\n/);

    const server = await spawnRngServer({
      args: [
        "--tls-cert",
        pem("server.pem"),
        "--tls-key",
        pem("server-key.pem"),
        "--tls-client-auth",
        "require",
      ],
      env: { RNG_TLS_CA: pem("ca.pem") },
    });
    try {
      assert.equal(server.ready.tls, true);
      assert.equal(server.ready.clientAuth, "require");
      const baseUrl = `https://${server.address}`;
      const client = { ca: certs.ca.cert, key: certs.client.key, cert: certs.client.cert };
      assert.equal(
        (await createClient(Rng, createGrpcTransport({ baseUrl, nodeOptions: client })).rng({})).RN,
        server.rn,
      );
      const connect = createConnectTransport({ baseUrl, httpVersion: "1.1", nodeOptions: client });
      assert.equal((await createClient(Rng, connect).rng({})).RN, server.rn);
      await assert.rejects(
        createClient(Rng, createGrpcTransport({ baseUrl, nodeOptions: { ca: certs.ca.cert } })).rng({}),
        (e) =>
          e instanceof ConnectError && e.code === Code.Internal && /certificate required/.test(e.message),
      );
    } finally {
      assert.deepEqual(await server.stop(), { code: 0, signal: null });
    }
  });
});
