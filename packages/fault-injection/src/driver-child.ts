// A client driver in a process of its own: the runner (scenarios.ts) forks
// it, it makes unary Rng calls with a fixed number in flight and records
// every call, and how many calls the client started on each pod (picks,
// sampled every 50 ms from the client's own counters: the pool's stats(),
// grpc-js's channelz), until told to stop. A heartbeat every 250 ms lets the
// runner see when its event loop stops turning.
import type { CallRecords, ClientDriver, FromDriver, ToDriver } from "./drivers.js";

const now = () => performance.timeOrigin + performance.now();
const send = (m: FromDriver) => process.send?.(m);

interface Client {
  call(): Promise<bigint>;
  /** Calls started per pod address so far. */
  picks(): Map<string, number>;
  close(): Promise<void>;
}

async function poolClient(driver: ClientDriver, target: string): Promise<Client> {
  const { createClient } = await import("@connectrpc/connect");
  const { createPoolTransport } = await import("@rngbalance/dns-pool");
  const { Rng } = await import("@rngbalance/proto");
  const pool = createPoolTransport({
    target,
    ...(driver.policy ? { policy: driver.policy } : {}),
    ...(driver.keepalive
      ? { keepalive: { timeMs: driver.keepalive.timeMs, timeoutMs: driver.keepalive.timeoutMs } }
      : {}),
  });
  if (process.env.RNG_FAULTS_DEBUG) {
    for (const event of ["endpointState", "ejection"] as const) {
      pool.on(event, (e: unknown) => process.stderr.write(`${Date.now()} ${event} ${JSON.stringify(e)}\n`));
    }
  }
  const client = createClient(Rng, pool);
  const options = driver.deadlineMs === undefined ? {} : { timeoutMs: driver.deadlineMs };
  return {
    call: async () => (await client.rng({}, options)).RN,
    picks: () => new Map(pool.stats().endpoints.map((e) => [e.address, e.calls])),
    close: () => pool.close(),
  };
}

async function grpcJsClient(driver: ClientDriver, target: string): Promise<Client> {
  // Read when grpc-js loads: without it, a dns: target ignores its DNS server
  // (the authority) and asks the system resolver.
  process.env.GRPC_NODE_USE_ALTERNATIVE_RESOLVER = "true";
  const grpc = await import("@grpc/grpc-js");
  const { create, fromBinary, toBinary } = await import("@bufbuild/protobuf");
  const { RNSchema, SourceSchema } = await import("@rngbalance/proto");
  const client = new grpc.Client(target, grpc.credentials.createInsecure(), {
    "grpc.service_config": JSON.stringify({ loadBalancingConfig: [{ round_robin: {} }] }),
    ...(driver.keepalive
      ? {
          "grpc.keepalive_time_ms": driver.keepalive.timeMs,
          "grpc.keepalive_timeout_ms": driver.keepalive.timeoutMs,
        }
      : {}),
  });
  const serialize = (m: unknown) => Buffer.from(toBinary(SourceSchema, m as never));
  const deserialize = (b: Buffer) => fromBinary(RNSchema, b);
  const body = create(SourceSchema);
  const channelz = grpc.getChannelzHandlers();
  type Cb = (err: unknown, value: Record<string, unknown>) => void;
  const ask = (method: keyof typeof channelz, request: Record<string, unknown>) => {
    let out: Record<string, unknown> = {};
    // The handlers answer synchronously; the call object only needs `request`.
    (channelz[method] as unknown as (call: { request: unknown }, cb: Cb) => void)(
      { request },
      (_err, value) => {
        out = value ?? {};
      },
    );
    return out;
  };
  return {
    call: () =>
      new Promise<bigint>((resolve, reject) => {
        const deadline = driver.deadlineMs === undefined ? {} : { deadline: Date.now() + driver.deadlineMs };
        client.makeUnaryRequest("/rng.Rng/Rng", serialize, deserialize, body, deadline, (err, value) => {
          if (err) reject(err);
          else resolve((value as { RN: bigint }).RN);
        });
      }),
    picks() {
      const counts = new Map<string, number>();
      const top = ask("GetTopChannels", { start_channel_id: "0" }) as {
        channel?: { subchannel_ref: { subchannel_id: string }[] }[];
      };
      for (const channel of top.channel ?? []) {
        for (const ref of channel.subchannel_ref) {
          const sub = ask("GetSubchannel", { subchannel_id: ref.subchannel_id }) as {
            subchannel?: { data: { target: string; calls_started: number } };
          };
          if (!sub.subchannel) continue;
          const { target: address, calls_started } = sub.subchannel.data;
          counts.set(address, (counts.get(address) ?? 0) + Number(calls_started));
        }
      }
      return counts;
    },
    close: async () => client.close(),
  };
}

/** The gRPC status of a failed call, from connect's ConnectError or grpc-js's ServiceError. */
function codeOf(err: unknown): number {
  const code = (err as { code?: unknown }).code;
  // 2 (UNKNOWN) for anything that carries no status.
  return typeof code === "number" && code > 0 && code <= 16 ? code : 2;
}

async function main(init: Extract<ToDriver, { type: "init" }>): Promise<void> {
  const { driver, target, pods, inFlight } = init;
  const client =
    driver.client === "pool" ? await poolClient(driver, target) : await grpcJsClient(driver, target);
  const podOf = new Map(pods.map((p, i) => [BigInt(p.rn), i]));
  const addressIndex = new Map(pods.map((p, i) => [p.address, i]));

  // Warm up: every pod answered at least once (lazy connections all up).
  const seen = new Set<number>();
  const deadline = Date.now() + init.readyTimeoutMs;
  while (seen.size < pods.length) {
    if (Date.now() > deadline)
      throw new Error(
        `${driver.name}: only ${seen.size} of ${pods.length} pods answered within ${init.readyTimeoutMs} ms`,
      );
    const answers = await Promise.allSettled(Array.from({ length: pods.length * 2 }, () => client.call()));
    for (const a of answers) if (a.status === "fulfilled") seen.add(podOf.get(a.value) ?? -1);
    seen.delete(-1);
  }

  const calls: CallRecords = { start: [], duration: [], code: [], pod: [] };
  const picks: number[][] = pods.map(() => []);
  let running = false;
  let active = 0;
  let drained: (() => void) | undefined;
  const worker = async () => {
    active++;
    while (running) {
      const i = calls.start.length;
      const start = now();
      calls.start.push(start);
      calls.duration.push(Number.NaN);
      calls.code.push(-1);
      calls.pod.push(-1);
      try {
        const rn = await client.call();
        calls.code[i] = 0;
        calls.pod[i] = podOf.get(rn) ?? -1;
      } catch (err) {
        calls.code[i] = codeOf(err);
      }
      calls.duration[i] = now() - start;
    }
    if (--active === 0) drained?.();
  };

  let last = new Map<string, number>();
  const sample = () => {
    const counts = client.picks();
    const at = now();
    for (const [address, n] of counts) {
      const index = addressIndex.get(address);
      if (index !== undefined && n > (last.get(address) ?? 0)) picks[index]?.push(at);
    }
    last = counts;
  };
  const sampler = setInterval(sample, 50);
  const beat = setInterval(() => send({ type: "beat", at: now(), calls: calls.start.length }), 250);

  process.on("message", async (m: ToDriver) => {
    if (m.type === "start") {
      sample();
      running = true;
      for (let i = 0; i < inFlight; i++) void worker();
    } else if (m.type === "stop") {
      running = false;
      // Calls still stuck after drainMs stay unfinished (NaN duration).
      await Promise.race([
        new Promise<void>((r) => {
          drained = r;
          if (active === 0) r();
        }),
        new Promise((r) => setTimeout(r, m.drainMs)),
      ]);
      clearInterval(sampler);
      clearInterval(beat);
      // Exit only once the (large) message is written to the channel.
      await new Promise<void>((r) =>
        process.send?.({ type: "done", calls, picks } satisfies FromDriver, () => r()),
      );
      await Promise.race([client.close(), new Promise((r) => setTimeout(r, 2000))]);
      process.exit(0);
    }
  });
  send({ type: "ready" });
}

process.once("message", (m: ToDriver) => {
  if (m.type !== "init") return;
  main(m).catch((err: unknown) => {
    send({ type: "error", message: err instanceof Error ? (err.stack ?? err.message) : String(err) });
    process.exitCode = 1;
    setTimeout(() => process.exit(1), 100).unref();
  });
});
