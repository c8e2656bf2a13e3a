/** How the server treats each HTTP/2 connection. Every duration is in milliseconds; 0 turns a timer off. */
export interface Http2ConnectionPolicy {
  /** GOAWAY a connection that has had no call for this long (grpc-go's MaxConnectionIdle, gRFC A9). */
  readonly idleTimeoutMs: number;
  /** GOAWAY a connection this old, ±10 % jitter (MaxConnectionAge), so clients re-resolve DNS. */
  readonly maxConnectionAgeMs: number;
  /** After max age, how long calls may finish before the connection is cut (MaxConnectionAgeGrace). */
  readonly maxConnectionAgeGraceMs: number;
  /** Send a PING this often; a peer that does not answer within `keepaliveTimeoutMs` is cut. */
  readonly keepaliveTimeMs: number;
  /** How long a PING may go unanswered. */
  readonly keepaliveTimeoutMs: number;
  /**
   * Ping enforcement (grpc-go's EnforcementPolicy.MinTime): a client that
   * pings more often than this, with no data sent in between, earns a
   * strike; the third strike gets GOAWAY ENHANCE_YOUR_CALM "too_many_pings".
   */
  readonly keepaliveMinTimeMs: number;
  /** Allow pings while no call is open (PermitWithoutStream); if false, the minimum is 2 h then. */
  readonly keepalivePermitWithoutCalls: boolean;
}
