import type * as http from "node:http";

/**
 * The longest timeout a request may ask for: Node's timers take at most
 * 2^31-1 ms (24.8 days), and a longer one fires at once (with a
 * TimeoutOverflowWarning). As grpc-go clamps what it cannot represent,
 * a longer grpc-timeout or connect-timeout-ms becomes this.
 */
export const MAX_TIMEOUT_MS = 2 ** 31 - 1;
/** MAX_TIMEOUT_MS (rounded down to whole seconds) as a grpc-timeout value, which has at most 8 digits. */
const MAX_GRPC_TIMEOUT = `${Math.floor(MAX_TIMEOUT_MS / 1000)}S`;
const GRPC_TIMEOUT_UNIT_MS: Readonly<Record<string, number>> = {
  H: 3_600_000,
  M: 60_000,
  S: 1000,
  m: 1,
  u: 1e-3,
  n: 1e-6,
};

/** Clamps a grpc-timeout or connect-timeout-ms header that asks for more than {@link MAX_TIMEOUT_MS}, in place. */
export function clampTimeouts(headers: http.IncomingHttpHeaders): void {
  const grpc = headers["grpc-timeout"];
  if (typeof grpc === "string" && grpc.length > 1) {
    const ms = Number(grpc.slice(0, -1)) * (GRPC_TIMEOUT_UNIT_MS[grpc.slice(-1)] ?? 0);
    if (ms > MAX_TIMEOUT_MS && /^\d{1,8}[HMSmun]$/.test(grpc)) headers["grpc-timeout"] = MAX_GRPC_TIMEOUT;
  }
  const connect = headers["connect-timeout-ms"];
  if (typeof connect === "string" && /^\d{1,10}$/.test(connect) && Number(connect) > MAX_TIMEOUT_MS) {
    headers["connect-timeout-ms"] = String(MAX_TIMEOUT_MS);
  }
}
