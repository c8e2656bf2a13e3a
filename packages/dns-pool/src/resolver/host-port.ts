import { isIP } from "node:net";
import { formatHostPort } from "./address.js";

/** Throws the target's InvalidArgument error with `why` in it. */
export type TargetFail = (why: string) => Error;

/**
 * Splits "host:port", "[v6]:port", a bare IPv6 literal or "host" (with
 * `defaultPort`). Shared by the built-in schemes' parsers.
 */
export function splitHostPort(
  s: string,
  defaultPort: number | undefined,
  fail: TargetFail,
): { host: string; port: number } {
  let host: string;
  let portText: string | undefined;
  if (s.startsWith("[")) {
    const close = s.indexOf("]");
    if (close < 0) throw fail(`"${s}" has "[" without "]"`);
    host = s.slice(1, close);
    const after = s.slice(close + 1);
    if (after !== "" && !after.startsWith(":")) throw fail(`unexpected "${after}" after "]"`);
    portText = after === "" ? undefined : after.slice(1);
  } else {
    const colons = s.split(":").length - 1;
    if (colons > 1) {
      // A bare IPv6 literal (allowed without a port only).
      if (isIP(s) !== 6) {
        throw fail(`"${s}" has ${colons} ":" but is not an IPv6 address; write host:port, or [IPv6]:port`);
      }
      host = s;
      portText = undefined;
    } else {
      const i = s.lastIndexOf(":");
      host = i < 0 ? s : s.slice(0, i);
      portText = i < 0 ? undefined : s.slice(i + 1);
    }
  }
  if (host === "") throw fail("the host is missing");
  if (portText === undefined) {
    if (defaultPort === undefined) {
      throw fail(
        `"${s}" has no port: add one (e.g. ${formatHostPort(host, 8081)}) or set the defaultPort option`,
      );
    }
    return { host, port: defaultPort };
  }
  if (!/^\d{1,5}$/.test(portText) || Number(portText) < 1 || Number(portText) > 65535) {
    throw fail(`port "${portText}" is not a number from 1 to 65535`);
  }
  return { host, port: Number(portText) };
}

/** `host` if it is an IP literal or a valid DNS name (RFC 1123 labels, underscores allowed). */
export function checkHost(host: string, fail: TargetFail): string {
  if (isIP(host)) return host;
  const name = host.endsWith(".") ? host.slice(0, -1) : host;
  const label = /^[A-Za-z0-9_]([A-Za-z0-9_-]{0,61}[A-Za-z0-9_])?$/;
  if (name.length === 0 || name.length > 253 || !name.split(".").every((l) => label.test(l))) {
    throw fail(`"${host}" is not a valid host name`);
  }
  return host;
}
