import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

/** A certificate and its private key, PEM. */
export interface TestKeyPair {
  readonly cert: Buffer;
  readonly key: Buffer;
}

/** What {@link createTestCertificates} makes. */
export interface TestCertificates {
  /** The CA that signed `server` and `client` (its certificate is what peers trust). */
  readonly ca: TestKeyPair;
  /** A server certificate for 127.0.0.1, 127.0.0.2, 127.0.0.3, ::1 (IP SANs) and localhost. */
  readonly server: TestKeyPair;
  /** A client certificate (CN "test-client", extendedKeyUsage clientAuth), for mutual TLS. */
  readonly client: TestKeyPair;
  /** A client certificate from another CA (CN "stranger"): a server trusting `ca` must refuse it. */
  readonly stranger: TestKeyPair;
  /** The directory holding every file as PEM (ca.pem, ca-key.pem, server.pem, server-key.pem, ...); removed by `dispose`. */
  readonly dir: string;
  /** Removes `dir`. */
  dispose(): void;
}

/**
 * Makes a throwaway PKI with the `openssl` command (Node cannot make X.509
 * certificates itself): a CA, a server certificate for the loopback
 * addresses, a client certificate it signed, and one from an unrelated CA.
 * EC P-256 keys, valid for a day. Throws, saying what to install, when
 * openssl is missing.
 */
export function createTestCertificates(): TestCertificates {
  const dir = mkdtempSync(join(tmpdir(), "rngbalance-certs-"));
  const file = (name: string) => join(dir, name);
  const openssl = (...args: string[]) => {
    try {
      execFileSync("openssl", args, { cwd: dir, stdio: ["ignore", "ignore", "pipe"] });
    } catch (err) {
      const e = err as NodeJS.ErrnoException & { stderr?: Buffer };
      if (e.code === "ENOENT") {
        throw new Error(
          "createTestCertificates: the openssl command is missing (apt-get install -y openssl)",
        );
      }
      throw new Error(`openssl ${args.join(" ")} failed: ${e.stderr?.toString() ?? e.message}`);
    }
  };
  try {
    const ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes"];
    const selfSigned = (name: string, cn: string) =>
      openssl(
        "req",
        "-x509",
        ...ec,
        "-keyout",
        `${name}-key.pem`,
        "-out",
        `${name}.pem`,
        "-days",
        "1",
        "-subj",
        `/CN=${cn}`,
        "-addext",
        "basicConstraints=critical,CA:TRUE",
        "-addext",
        "keyUsage=critical,keyCertSign,cRLSign",
      );
    const signed = (name: string, cn: string, ca: string, ext: string) => {
      openssl(
        "req",
        "-new",
        ...ec,
        "-keyout",
        `${name}-key.pem`,
        "-out",
        `${name}.csr`,
        "-subj",
        `/CN=${cn}`,
      );
      writeFileSync(file(`${name}.ext`), ext);
      openssl(
        "x509",
        "-req",
        "-in",
        `${name}.csr`,
        "-CA",
        `${ca}.pem`,
        "-CAkey",
        `${ca}-key.pem`,
        "-CAcreateserial",
        "-out",
        `${name}.pem`,
        "-days",
        "1",
        "-extfile",
        `${name}.ext`,
      );
    };
    selfSigned("ca", "rngbalance test CA");
    selfSigned("other-ca", "another CA");
    signed(
      "server",
      "localhost",
      "ca",
      "subjectAltName=IP:127.0.0.1,IP:127.0.0.2,IP:127.0.0.3,IP:::1,DNS:localhost\nextendedKeyUsage=serverAuth\n",
    );
    signed("client", "test-client", "ca", "extendedKeyUsage=clientAuth\n");
    signed("stranger", "stranger", "other-ca", "extendedKeyUsage=clientAuth\n");
  } catch (err) {
    rmSync(dir, { recursive: true, force: true });
    throw err;
  }
  const pair = (name: string): TestKeyPair => ({
    cert: readFileSync(file(`${name}.pem`)),
    key: readFileSync(file(`${name}-key.pem`)),
  });
  return {
    ca: pair("ca"),
    server: pair("server"),
    client: pair("client"),
    stranger: pair("stranger"),
    dir,
    dispose: () => rmSync(dir, { recursive: true, force: true }),
  };
}
