import { Code, ConnectError } from "@connectrpc/connect";
import type { Picker, PickInfo } from "../balancer/picker.js";
import type { Endpoint } from "../connection/endpoint.js";
import type { Clock } from "../core/clock.js";
import { connectionLost, sessionLost } from "../core/errors.js";

/** What the call path needs of a method. */
export type Method = { parent: { typeName: string }; name: string };

/**
 * A pick for a retry: another endpoint than those the call already failed
 * on, if the picker offers one within a few picks (still O(1)).
 */
export function pickAvoiding(
  picker: Picker<Endpoint>,
  failedOn: Endpoint[] | undefined,
  info?: PickInfo,
): Endpoint | undefined {
  let endpoint = picker.pick(info);
  if (!failedOn) return endpoint;
  for (let i = 0; i < 4 && endpoint && failedOn.includes(endpoint); i++) endpoint = picker.pick(info);
  return endpoint;
}

/**
 * gRPC status semantics: a call whose connection broke under it ends with
 * UNAVAILABLE. connect-node reports the same event as ABORTED (ECONNRESET)
 * or CANCELED (Node resets open streams with CANCEL when a session dies),
 * and as INTERNAL when Node destroys the session with an error (a liveness
 * or keepalive PING timeout, an HTTP/2 session error, a GOAWAY with an
 * error code); when the caller did not cancel and the connection was lost,
 * say what happened. An INTERNAL that is not a lost session (a real
 * protocol error) stays INTERNAL.
 */
export function connectionLossAsUnavailable(
  err: unknown,
  endpoint: Endpoint,
  lossesAtStart: number,
  signal: AbortSignal | undefined,
): ConnectError {
  const error = ConnectError.from(err);
  const code = error.code;
  if (code !== Code.Canceled && code !== Code.Aborted && code !== Code.Internal && code !== Code.Unknown) {
    return error;
  }
  if (signal?.aborted) return error;
  const lost =
    sessionLost(error) ||
    (code !== Code.Internal &&
      code !== Code.Unknown &&
      (endpoint.connectionLosses !== lossesAtStart || connectionLost(error)));
  if (!lost) return error;
  return new ConnectError(
    `connection to ${endpoint.address} was lost during the call (${error.rawMessage}); the call may or may not have run`,
    Code.Unavailable,
    error.metadata,
    undefined,
    error,
  );
}

/** A call's procedure, "/rng.Rng/Rng". */
export function procedureOf(method: Method): string {
  return `/${method.parent.typeName}/${method.name}`;
}

/** What is left of a call's deadline; DEADLINE_EXCEEDED when nothing is. */
export function remainingTimeout(
  timeoutMs: number | undefined,
  startedAt: number,
  clock: Clock,
): number | undefined {
  if (timeoutMs === undefined) return undefined;
  const left = timeoutMs - (clock.now() - startedAt);
  if (left <= 0)
    throw new ConnectError(
      `deadline of ${timeoutMs} ms exceeded before the call started`,
      Code.DeadlineExceeded,
    );
  return left;
}

/** `init` plus the policy's headers, those the call sets itself left as they are. */
export function withHeaders(
  init: ConstructorParameters<typeof Headers>[0] | undefined,
  extra: Readonly<Record<string, string>>,
): Headers {
  const headers = new Headers(init);
  for (const key in extra) if (!headers.has(key)) headers.set(key, extra[key] as string);
  return headers;
}
