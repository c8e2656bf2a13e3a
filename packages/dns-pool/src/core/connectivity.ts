/**
 * The connectivity state of one endpoint's connection, or of the whole pool,
 * with gRPC's meanings (https://github.com/grpc/grpc/blob/master/doc/connectivity-semantics-and-api.md).
 */
export enum ConnectivityState {
  /** No connection, and none being made; one is made when needed. */
  IDLE = "IDLE",
  /** A connection is being made. */
  CONNECTING = "CONNECTING",
  /** Connected and ready for calls. */
  READY = "READY",
  /** The last attempt failed; another follows after a backoff delay. */
  TRANSIENT_FAILURE = "TRANSIENT_FAILURE",
  /** Removed from the pool, or the pool is closed: no new calls, in-flight ones finish. */
  SHUTDOWN = "SHUTDOWN",
}
