import type { ConnectionScaling } from "../../src/connection/connection-scaling.js";
import { Subchannel } from "../../src/connection/subchannel.js";
import { FakeClock, FakeDialer } from "../../src/testing/index.js";

/** How {@link subchannelHarness} builds its subchannel. */
export interface SubchannelHarnessOptions {
  /** Connection scaling (gRFC A105), as the subchannel takes it. Default: none, one connection. */
  readonly scaling?: ConnectionScaling;
  /** The server's MAX_CONCURRENT_STREAMS on every fake connection. Default: none, the connections carry no streams. */
  readonly maxConcurrentStreams?: number;
  /** Fake connections report `close()` only at `finishClose()`, as a real socket reports it later. Default false. */
  readonly deferClose?: boolean;
}

/**
 * A subchannel to 10.0.0.1:8081 over fake connections and a fake clock, so
 * that unit tests play the server (`dialer.last.settings()`, `.drop()`,
 * `.goaway()`) and time (`clock.advance()`) step by step. Its timings are
 * fixed for exact checks: 1 s connect timeout, backoff 1 s ×2 up to 3 s with
 * no jitter. It records what the subchannel reports: every state change as
 * `"IDLE->CONNECTING"` in `transitions`, and the GOAWAYs it heard.
 */
export function subchannelHarness(options: SubchannelHarnessOptions = {}) {
  const clock = new FakeClock();
  const dialer = new FakeDialer(options.maxConcurrentStreams, options.deferClose);
  const transitions: string[] = [];
  let goaways = 0;
  const subchannel = new Subchannel(
    {
      address: { host: "10.0.0.1", port: 8081 },
      authority: "http://svc:8081",
      tls: undefined,
      connectTimeoutMs: 1000,
      keepalive: { timeoutMs: 1000, permitWithoutCalls: false },
      backoff: { initialMs: 1000, maxMs: 3000, multiplier: 2, jitter: 0.2 },
      http2Options: undefined,
      clock,
      dial: dialer.dial,
      random: () => 0.5, // no jitter
      ...(options.scaling ? { scaling: options.scaling } : {}),
    },
    {
      onStateChange: (sc, previous) => transitions.push(`${previous}->${sc.state}`),
      onGoaway: () => goaways++,
    },
  );
  return { clock, dialer, transitions, subchannel, goaways: () => goaways };
}
