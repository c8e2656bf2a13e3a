/**
 * The scratch project's program, as a consumer of the published packages
 * writes it: two servers ("pods" on 127.0.0.2 and 127.0.0.3, one port) made
 * with @rngbalance/connect-server, called through a pool transport from
 * @rngbalance/dns-pool over an `ipv4:` target. Then one pod reports
 * NOT_SERVING through gRPC health, which the pool watches, and the calls
 * must all go to the other. Prints one JSON line (the result) on stdout,
 * closes everything and exits by itself: a timer or socket left open would
 * keep it running, and the release test would time it out.
 *
 * Usage: node dist/main.js <port> <calls>
 */
import { createClient } from "@connectrpc/connect";
import { type ConnectServer, createJsonLogger, startConnectServer } from "@rngbalance/connect-server";
import { createPoolTransport } from "@rngbalance/dns-pool";
import { entryPoints } from "./entry-points.js";
import { EchoService } from "./gen/release/v1/echo_pb.js";

const [portArg, callsArg] = process.argv.slice(2);
const port = Number(portArg);
const calls = Number(callsArg);
if (!Number.isInteger(port) || port <= 0 || !Number.isInteger(calls) || calls <= 0) {
  throw new Error(`usage: main.js <port> <calls>, got ${process.argv.slice(2).join(" ")}`);
}
const pods = ["127.0.0.2", "127.0.0.3"] as const;

const servers: ConnectServer[] = [];
const pool = createPoolTransport({ target: `ipv4:${pods.map((host) => `${host}:${port}`).join(",")}` });
try {
  for (const host of pods) {
    servers.push(
      await startConnectServer({
        host,
        port,
        services: [EchoService],
        routes(router) {
          router.service(EchoService, { echo: (req) => ({ message: req.message, pod: host }) });
        },
        // Warnings and errors only, on stderr: stdout carries the result.
        logger: createJsonLogger({ minLevel: "warn", write: (line) => process.stderr.write(line) }),
        drainTimeoutMs: 1000,
      }),
    );
  }
  const client = createClient(EchoService, pool);
  const echo = async (i: number): Promise<string> => {
    const res = await client.echo({ message: `call ${i}` });
    if (res.message !== `call ${i}`) throw new Error(`call ${i} answered "${res.message}"`);
    return res.pod;
  };

  const answeredBy: Record<string, number> = {};
  for (let i = 0; i < calls; i++) {
    const pod = await echo(i);
    answeredBy[pod] = (answeredBy[pod] ?? 0) + 1;
  }

  // The pool watches grpc.health.v1 on each endpoint: once the second pod
  // says NOT_SERVING, every call goes to the first.
  servers[1]?.health.shutdown();
  const deadline = Date.now() + 5000;
  let inARow = 0;
  for (let i = calls; inARow < 10; i++) {
    if (Date.now() > deadline) throw new Error(`calls still reach ${pods[1]} 5 s after it said NOT_SERVING`);
    inARow = (await echo(i)) === pods[0] ? inARow + 1 : 0;
  }

  const exportsPerEntryPoint = Object.fromEntries(
    Object.entries(entryPoints).map(([name, module]) => [name, Object.keys(module).length]),
  );
  process.stdout.write(`${JSON.stringify({ answeredBy, afterNotServing: inARow, exportsPerEntryPoint })}\n`);
} finally {
  await pool.close();
  await Promise.all(servers.map((s) => s.drain()));
}
