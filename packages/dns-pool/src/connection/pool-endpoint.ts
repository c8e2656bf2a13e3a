import type { EndpointInfo } from "../balancer/policy.js";

/** What the endpoint set needs of an endpoint (the pool's `Endpoint`, or a fake in tests). */
export interface PoolEndpoint extends EndpointInfo {
  /** Why its last connection attempt failed, if it did. */
  readonly lastError: Error | undefined;
  /** Asks for a connection (the policy wants it connected). */
  connect(): void;
  /** Leaves: no new calls, in-flight ones finish, then the connection closes. */
  shutdown(): Promise<void>;
}
