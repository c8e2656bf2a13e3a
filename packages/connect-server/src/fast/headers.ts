import type * as http2 from "node:http2";

/**
 * Node's incoming headers as a Fetch API `Headers`, as connect-node's
 * `nodeHeaderToWebHeader` converts them: pseudo-headers dropped, array
 * values appended one by one.
 */
export function webHeadersFromNode(node: http2.IncomingHttpHeaders): Headers {
  const header = new Headers();
  for (const [k, v] of Object.entries(node)) {
    if (k.startsWith(":") || v === undefined) continue;
    if (typeof v === "string") header.append(k, v);
    else if (typeof v === "number") header.append(k, String(v));
    else for (const e of v) header.append(k, e);
  }
  return header;
}

/**
 * A `Headers` object as the outgoing header object Node's http2 API takes,
 * as connect-node's `webHeaderToNodeHeaders` makes it: keys in `Headers`
 * iteration order (sorted), repeated keys (only set-cookie, which `Headers`
 * does not join) as arrays.
 *
 * `asResponseHeaders` also applies what `Http2ServerResponse.writeHead`
 * does on the compatibility path connect-node writes through: it drops a
 * `connection` header (unless its value is "trailers") instead of letting
 * `respond()` throw on it.
 */
export function nodeHeadersFromWeb(headers: Headers, asResponseHeaders: boolean): http2.OutgoingHttpHeaders {
  const out: http2.OutgoingHttpHeaders = Object.create(null);
  headers.forEach((value, key) => {
    if (asResponseHeaders && key === "connection" && value !== "trailers") return;
    const existing = out[key];
    if (existing === undefined) out[key] = value;
    else if (Array.isArray(existing)) existing.push(value);
    else out[key] = [String(existing), value];
  });
  return out;
}

/**
 * One request header's value with repeated values joined by ", ": what
 * `Headers.get` returns on connect-node's path, so a trailer hook reads the
 * same value on both paths.
 */
export function nodeHeaderValue(node: http2.IncomingHttpHeaders, name: string): string | undefined {
  const v = node[name];
  return v === undefined || typeof v === "string" ? v : v.join(", ");
}
