import { Code, ConnectError } from "@connectrpc/connect";
import type { UniversalHandler, UniversalServerRequest } from "@connectrpc/connect/protocol";
import { universalResponseToNodeResponse } from "@connectrpc/connect-node";
import { context } from "@opentelemetry/api";
import type { NodeHandler } from "../connect-handler.js";
import { framingOf, MessageCounter, responseCode } from "./framing.js";
import type { ServerCall } from "./server-telemetry.js";

/**
 * Serves one call as connect-node's adapter does, observed for telemetry:
 * the handler runs in the call's span context; request and response
 * bodies are counted as they stream (message bytes only); the call ends
 * once the response, trailers included, has been handed to Node, with the
 * status the response carries. A client that went away ends it CANCELLED.
 */
export function serveObserved(
  handler: UniversalHandler,
  uReq: UniversalServerRequest,
  res: Parameters<NodeHandler>[1],
  call: ServerCall,
  contentType: string | undefined,
  onHandlerError: ((err: unknown, handler: UniversalHandler) => void) | undefined,
): void {
  const rcvd = new MessageCounter(framingOf(contentType));
  if (uReq.body && Symbol.asyncIterator in Object(uReq.body)) {
    Object.assign(uReq, { body: counted(uReq.body as AsyncIterable<Uint8Array>, rcvd) });
  }
  let sent: MessageCounter | undefined;
  let status: (() => number | undefined) | undefined;
  // connect-node's universalResponseToNodeResponse() never settles on Node's
  // HTTP/2 response (it waits for an "end" event that is not emitted), so
  // the call ends on the response's own events: "finish" once everything,
  // trailers included, went to the stream; "close" first means cut short.
  res.once("finish", () => call.end(status?.() ?? Code.Unknown, sent?.messageBytes ?? 0, rcvd.messageBytes));
  res.once("close", () => call.end(Code.Canceled, sent?.messageBytes ?? 0, rcvd.messageBytes, "cut short"));
  context
    .with(call.context, () => handler(uReq))
    .then((uRes) => {
      const header = uRes.header ?? new Headers();
      const framing = framingOf(header.get("content-type") ?? undefined);
      const out = new MessageCounter(framing, uRes.status !== 200);
      sent = out;
      status = () => responseCode(framing, uRes.status, header, uRes.trailer, out);
      const body = uRes.body && counted(uRes.body, out);
      return universalResponseToNodeResponse({ ...uRes, body }, res);
    })
    .catch((reason: unknown) => {
      const error = ConnectError.from(reason);
      const gone = error.code === Code.Aborted;
      call.end(
        gone ? Code.Canceled : error.code,
        sent?.messageBytes ?? 0,
        rcvd.messageBytes,
        error.rawMessage,
      );
      // The client went away: nothing to answer, nothing to report.
      if (!gone) onHandlerError?.(reason, handler);
    });
}

async function* counted(body: AsyncIterable<Uint8Array>, counter: MessageCounter): AsyncIterable<Uint8Array> {
  for await (const chunk of body) {
    counter.push(chunk);
    yield chunk;
  }
}
