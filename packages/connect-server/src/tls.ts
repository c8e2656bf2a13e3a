import type * as http from "node:http";
import type * as http2 from "node:http2";
import * as tls from "node:tls";
import { createContextKey } from "@connectrpc/connect";

/**
 * Whether the server asks clients for a certificate (mutual TLS):
 * - "none": it does not ask.
 * - "request": it asks; a client may send none, or one that does not
 *   verify against `ca`, and still connect. Handlers see only a verified
 *   one (see {@link peerCertificateKey}).
 * - "require": a client without a certificate that verifies against `ca`
 *   fails the TLS handshake, before any request.
 */
export type ClientAuth = "none" | "request" | "require";

/**
 * TLS for `startConnectServer`: Node's secure context options (`key`,
 * `cert`, `ca`, `pfx`, `passphrase`, `minVersion`, `ciphers`, ...) as
 * `tls.createSecureContext` takes them, plus the client-auth setting.
 * ALPN is the server's ("h2" and "http/1.1"); `ca` is what client
 * certificates are verified against (Node's root store when unset).
 */
export interface ConnectServerTls extends tls.SecureContextOptions {
  /** Ask clients for a certificate, and whether one is required; see {@link ClientAuth}. Default "none". */
  clientAuth?: ClientAuth;
}

/** The ALPN protocols the server offers, most preferred first. */
export const ALPN_PROTOCOLS: readonly string[] = ["h2", "http/1.1"];

/**
 * `tls.createServer` options for `options`, with a handshake deadline.
 * Throws a TypeError that says what to fix when `clientAuth` is not one of
 * its values or the rest does not make a secure context (no or a
 * mismatched key and certificate, unreadable PEM).
 */
export function tlsServerOptions(options: ConnectServerTls, handshakeTimeoutMs: number): tls.TlsOptions {
  const { clientAuth = "none", ...context } = options;
  if (clientAuth !== "none" && clientAuth !== "request" && clientAuth !== "require") {
    throw new TypeError(
      `tls.clientAuth must be "none", "request" or "require", not ${JSON.stringify(clientAuth)}`,
    );
  }
  if (context.pfx === undefined && (context.key === undefined || context.cert === undefined)) {
    throw new TypeError("tls needs the server's key and cert (or pfx)");
  }
  try {
    tls.createSecureContext(context);
  } catch (err) {
    throw new TypeError(`tls: the key, cert and ca do not make a TLS context: ${(err as Error).message}`);
  }
  return {
    ...context,
    ALPNProtocols: [...ALPN_PROTOCOLS],
    requestCert: clientAuth !== "none",
    rejectUnauthorized: clientAuth === "require",
    handshakeTimeout: handshakeTimeoutMs,
  };
}

/**
 * The client's certificate on a call, in handlers' `context.values`:
 * set on every call when the server's `tls.clientAuth` is "request" or
 * "require", to the certificate the client presented if it verified
 * against the server's `ca`, undefined otherwise (no certificate, an
 * unverified one, or a cleartext connection).
 *
 * @example
 * const cert = context.values.get(peerCertificateKey);
 * if (cert?.subject.CN !== "billing") throw new ConnectError("not allowed", Code.PermissionDenied);
 */
export const peerCertificateKey = createContextKey<tls.PeerCertificate | undefined>(undefined, {
  description: "the verified TLS client certificate",
});

/**
 * The verified client certificate of the connection `req` came in on
 * (HTTP/1.1 or HTTP/2), or undefined when there is none: a cleartext
 * connection, no certificate, or one that did not verify against `ca`.
 */
export function peerCertificateOf(
  req: http.IncomingMessage | http2.Http2ServerRequest,
): tls.PeerCertificate | undefined {
  // An HTTP/2 request's socket is Node's proxy of the TLS socket; its methods are bound to it.
  const socket = req.socket as Partial<tls.TLSSocket> | undefined;
  if (socket?.encrypted !== true || socket.authorized !== true || socket.getPeerCertificate === undefined) {
    return undefined;
  }
  const cert = socket.getPeerCertificate();
  // Node returns an empty object when the peer sent none.
  return cert && Object.keys(cert).length > 0 ? cert : undefined;
}
