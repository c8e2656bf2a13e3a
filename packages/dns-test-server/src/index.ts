/**
 * A DNS server for tests, the demo and the benchmark: {@link EmbeddedDnsServer}
 * answers A, AAAA, SRV and ANY queries on loopback, over UDP and TCP, from
 * records the caller edits at any time, as kube-dns answers for a headless
 * Service; it can also fail on purpose (NXDOMAIN, SERVFAIL, empty answers,
 * dropped queries) or pause.
 *
 * @packageDocumentation
 */
export {
  type DnsFailureMode,
  type DnsRecordSet,
  type DnsSrvRecord,
  EmbeddedDnsServer,
  type EmbeddedDnsServerOptions,
} from "./dns-server.js";
