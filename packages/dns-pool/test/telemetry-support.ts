import * as http2 from "node:http2";
import type { AddressInfo } from "node:net";
import { Code, ConnectError, type Interceptor } from "@connectrpc/connect";
import { connectNodeAdapter } from "@connectrpc/connect-node";
import { Rng, RngService } from "@rngbalance/proto";

/** A connect-node h2c server with the Rng services; `unavailable` fails every call. */
export async function startRngServer(
  host: string,
  { unavailable = false, interceptors = [] as Interceptor[] } = {},
): Promise<{ address: string; headers: http2.IncomingHttpHeaders[]; close(): Promise<void> }> {
  const fail = () => {
    if (unavailable) throw new ConnectError("fault injected", Code.Unavailable);
  };
  const headers: http2.IncomingHttpHeaders[] = [];
  const handler = connectNodeAdapter({
    interceptors,
    routes: (router) => {
      router.service(Rng, {
        rng() {
          fail();
          return { RN: 42n };
        },
      });
      router.service(RngService, {
        generate(req) {
          fail();
          return { rn: 42n, instance: `${host}:${req.delayMs}` };
        },
        async *generateStream(req) {
          fail();
          for (let i = 0; i < req.count; i++) yield { rn: 42n, instance: host, sequence: i };
        },
      });
    },
  });
  const server = http2.createServer((req, res) => {
    headers.push(req.headers);
    handler(req, res);
  });
  await new Promise<void>((r) => server.listen(0, host, r));
  return {
    address: `${host}:${(server.address() as AddressInfo).port}`,
    headers,
    close: () =>
      new Promise<void>((r) => {
        server.close(() => r());
        // Pools under test may hold idle connections open; they close with the pool.
      }),
  };
}
