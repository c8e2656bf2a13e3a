// The DNS server of a fault run as a process of its own, so that it can be
// frozen with SIGSTOP like a hung kube-dns. Started by dns-process.ts; takes
// its records over the IPC channel and answers every message with "ok".
import { EmbeddedDnsServer } from "@rngbalance/dns-test-server";

interface SetRecords {
  readonly id: number;
  readonly name: string;
  readonly a: readonly string[];
  readonly ttl: number;
}

const host = process.argv[2] ?? "127.0.0.1";
const server = await EmbeddedDnsServer.start({ host });
process.on("message", (message: SetRecords) => {
  server.setRecords(message.name, { a: [...message.a], ttl: message.ttl });
  process.send?.({ id: message.id, ok: true });
});
// The parent going away (its IPC channel closing) ends the server too.
process.on("disconnect", () => {
  void server.close().then(() => process.exit(0));
});
process.send?.({ ready: server.address });
