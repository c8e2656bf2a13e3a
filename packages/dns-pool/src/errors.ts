import { Code, ConnectError } from "@connectrpc/connect";

/** A malformed target or option: what is wrong and how it should look. */
export function invalidArgument(message: string): ConnectError {
  return new ConnectError(message, Code.InvalidArgument);
}

/** Node's error as text: "connect ECONNREFUSED 127.0.0.2:8081". */
export function describeError(err: unknown): string {
  if (err instanceof ConnectError) return err.rawMessage;
  if (err instanceof Error) return err.message;
  return String(err);
}
