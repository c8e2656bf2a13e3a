import * as http2 from "node:http2";
import type { AddressInfo } from "node:net";
import { create, type MessageInitShape } from "@bufbuild/protobuf";
import {
  Code,
  ConnectError,
  encodeBinaryHeader,
  type HandlerContext,
  type Interceptor,
} from "@connectrpc/connect";
import { connectNodeAdapter } from "@connectrpc/connect-node";
import { OrcaLoadReportSchema } from "@rngbalance/grpc-protos/xds/data/orca/v3";
import { Rng, RngService } from "@rngbalance/proto";

/** What {@link startRngServer} returns. */
export interface RngTestServer {
  /** "host:port". */
  readonly address: string;
  /** The request headers of every call, in order. */
  readonly headers: http2.IncomingHttpHeaders[];
  /** Destroys every open HTTP/2 session (the listener stays): clients see their connection drop. */
  dropConnections(): void;
  /** Stops listening. */
  close(): Promise<void>;
}

/**
 * A connect-node h2c server with the Rng services; `unavailable` fails
 * every call; `orca` gives the ORCA load report (gRFC A51) to send in
 * each response's trailers, or undefined for none.
 */
export async function startRngServer(
  host: string,
  {
    unavailable = false,
    interceptors = [] as Interceptor[],
    orca = (() => undefined) as () => MessageInitShape<typeof OrcaLoadReportSchema> | undefined,
  } = {},
): Promise<RngTestServer> {
  const respond = (ctx: HandlerContext) => {
    const report = orca();
    if (report) {
      ctx.responseTrailer.set(
        "endpoint-load-metrics-bin",
        encodeBinaryHeader(create(OrcaLoadReportSchema, report), OrcaLoadReportSchema),
      );
    }
    if (unavailable) throw new ConnectError("fault injected", Code.Unavailable);
  };
  const headers: http2.IncomingHttpHeaders[] = [];
  const handler = connectNodeAdapter({
    interceptors,
    routes: (router) => {
      router.service(Rng, {
        rng(_req, ctx) {
          respond(ctx);
          return { RN: 42n };
        },
      });
      router.service(RngService, {
        generate(req, ctx) {
          respond(ctx);
          return { rn: 42n, instance: `${host}:${req.delayMs}` };
        },
        async *generateStream(req, ctx) {
          respond(ctx);
          for (let i = 0; i < req.count; i++) yield { rn: 42n, instance: host, sequence: i };
        },
      });
    },
  });
  const server = http2.createServer((req, res) => {
    headers.push(req.headers);
    handler(req, res);
  });
  const sessions = new Set<http2.ServerHttp2Session>();
  server.on("session", (session) => {
    sessions.add(session);
    session.once("close", () => sessions.delete(session));
  });
  await new Promise<void>((r) => server.listen(0, host, r));
  return {
    address: `${host}:${(server.address() as AddressInfo).port}`,
    headers,
    dropConnections() {
      for (const session of sessions) session.destroy();
    },
    close: () =>
      new Promise<void>((r) => {
        server.close(() => r());
        // Pools under test may hold idle connections open; they close with the pool.
      }),
  };
}
