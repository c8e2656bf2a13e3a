import * as packet from "dns-packet";
import type { DnsRecordStore } from "./dns-records.js";
// Only for the {@link}s below.
import type { EmbeddedDnsServer } from "./dns-server.js";
import { CLASSIC_UDP_LIMIT, endOfQuestion, opcodeOf, RCODE, ResponseBuilder, TCP_LIMIT } from "./dns-wire.js";

/**
 * Answers DNS queries from a {@link DnsRecordStore}, as the embedded DNS
 * server does (see {@link EmbeddedDnsServer}), and counts them by name.
 */
export class DnsResponder {
  private readonly queriesByName = new Map<string, number>();
  private totalQueries = 0;

  constructor(private readonly store: DnsRecordStore) {}

  /** Well-formed queries for `name` so far, or for all names when `name` is omitted. */
  queryCount(name?: string): number {
    if (name === undefined) return this.totalQueries;
    return this.queriesByName.get(this.store.key(name)) ?? 0;
  }

  /** The encoded response to one message, or undefined to stay silent. Never throws. */
  respond(message: Buffer, transport: "udp" | "tcp"): Buffer | undefined {
    try {
      return this.answer(message, transport);
    } catch {
      return undefined; // malformed in a way decode() let through: ignore, as servers do
    }
  }

  private answer(message: Buffer, transport: "udp" | "tcp"): Buffer | undefined {
    let query: packet.DecodedPacket;
    try {
      query = packet.decode(message);
    } catch {
      return undefined; // not DNS: ignore
    }
    // Never answer a response (no loops); one question is all real resolvers send.
    if (query.type !== "query" || query.questions?.length !== 1) return undefined;
    const question = query.questions[0]!;
    const questionEnd = endOfQuestion(message);
    if (questionEnd === undefined) return undefined;

    const { store } = this;
    const key = store.key(question.name);
    this.totalQueries++;
    this.queriesByName.set(key, (this.queriesByName.get(key) ?? 0) + 1);

    const opt = query.additionals?.find((a): a is packet.OptAnswer => a.type === "OPT");
    const response = new ResponseBuilder(message, questionEnd, opt !== undefined);
    const limit = transport === "tcp" ? TCP_LIMIT : Math.max(CLASSIC_UDP_LIMIT, opt?.udpPayloadSize ?? 0);

    // Only standard queries (opcode 0) of class IN or ANY.
    if (opcodeOf(message) !== 0 || (question.class !== "IN" && question.class !== "ANY")) {
      return response.build(RCODE.NOTIMP, limit);
    }

    switch (store.failure(question.name)) {
      case "drop":
        return undefined;
      case "nxdomain":
        return response.build(RCODE.NXDOMAIN, limit);
      case "servfail":
        return response.build(RCODE.SERVFAIL, limit);
      case "empty":
        return response.build(RCODE.NOERROR, limit);
    }

    const entry = store.lookup(question.name);
    if (!entry) return response.build(RCODE.NXDOMAIN, limit);
    const type = question.type as string;
    const any = type === "ANY";
    if (!any && type !== "A" && type !== "AAAA" && type !== "SRV") return response.build(RCODE.NOTIMP, limit);
    const { ttl } = entry;
    if (any || type === "A") for (const data of entry.a) response.answer({ type: "A", name: ".", ttl, data });
    if (any || type === "AAAA")
      for (const data of entry.aaaa) response.answer({ type: "AAAA", name: ".", ttl, data });
    if (any || type === "SRV") {
      for (const data of entry.srv) response.answer({ type: "SRV", name: ".", ttl, data });
      for (const target of new Set(entry.srv.map((r) => r.target))) this.glue(response, target);
    }
    // No records of the type: NOERROR without answers (NODATA).
    return response.build(RCODE.NOERROR, limit);
  }

  /** Adds the target's A and AAAA records, when known, to the additional section. */
  private glue(response: ResponseBuilder, target: string): void {
    const entry = this.store.lookup(target);
    if (!entry || this.store.failure(target) !== undefined) return;
    const name = target.replace(/\.$/, "");
    for (const data of entry.a) response.additional({ type: "A", name, ttl: entry.ttl, data });
    for (const data of entry.aaaa) response.additional({ type: "AAAA", name, ttl: entry.ttl, data });
  }
}
