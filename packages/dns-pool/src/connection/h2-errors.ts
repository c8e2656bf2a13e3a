import * as http2 from "node:http2";
import { Code, ConnectError } from "@connectrpc/connect";
import { http2ErrorName } from "@rngbalance/grpc-names";
import { errorCodesInChain, noteStreamReset } from "../core/errors.js";

const { NGHTTP2_CANCEL, NGHTTP2_REFUSED_STREAM, NGHTTP2_ENHANCE_YOUR_CALM, NGHTTP2_INADEQUATE_SECURITY } =
  http2.constants;

const RESET_CODES: Record<number, Code> = {
  1: Code.Internal,
  2: Code.Internal,
  3: Code.Internal,
  4: Code.Internal,
  6: Code.Internal,
  9: Code.Internal,
  10: Code.Internal,
  [NGHTTP2_REFUSED_STREAM]: Code.Unavailable,
  [NGHTTP2_CANCEL]: Code.Canceled,
  [NGHTTP2_ENHANCE_YOUR_CALM]: Code.ResourceExhausted,
  [NGHTTP2_INADEQUATE_SECURITY]: Code.PermissionDenied,
  13: Code.PermissionDenied,
};

/**
 * As connect-node maps an HTTP/2 reset code (its node-error.ts): undefined
 * for NO_ERROR and STREAM_CLOSED, which end a stream without failing it.
 */
export function errorFromReset(rstCode: number): ConnectError | undefined {
  const code = RESET_CODES[rstCode];
  if (code === undefined) return undefined;
  const err = new ConnectError(
    `http/2 stream closed with error code ${http2ErrorName(rstCode)} (0x${rstCode.toString(16)})`,
    code,
  );
  // Classified by code, not by message (see errors.ts): e.g. REFUSED_STREAM is safe to retry.
  noteStreamReset(err, rstCode);
  return err;
}

/** As connect-node maps a Node error (its connectErrorFromNodeReason). */
export function errorFromNodeReason(reason: Error): ConnectError {
  const codes = errorCodesInChain(reason);
  let code = Code.Internal;
  if (codes.includes("ERR_STREAM_WRITE_AFTER_END")) code = Code.Aborted;
  else if (
    codes.some((c) => c === "ERR_STREAM_DESTROYED" || c === "ERR_HTTP2_INVALID_STREAM" || c === "ECONNRESET")
  ) {
    code = Code.Aborted;
  } else if (
    codes.some((c) => c === "ETIMEDOUT" || c === "ENOTFOUND" || c === "EAI_AGAIN" || c === "ECONNREFUSED")
  ) {
    code = Code.Unavailable;
  }
  const err = ConnectError.from(reason, code);
  if (err !== (reason as unknown)) err.cause = reason;
  return err;
}
