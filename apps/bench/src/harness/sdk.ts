/**
 * The OpenTelemetry SDK set-ups the telemetry cells run with, installed in
 * the client child before its pool, as an application would.
 */

import type { MeterProvider } from "@opentelemetry/api";

/** What a telemetry cell turns on. */
export type TelemetryMode = "metrics" | "tracing";

/**
 * Installs the SDK for `mode`; returns what shuts it down.
 * - metrics: `startTelemetry` (MeterProvider + Prometheus reader), and a
 *   scrape of /metrics every second, so collection cost is in the figure;
 * - tracing: a TracerProvider (W3C propagator, AsyncLocalStorage
 *   context, always sampled) batching every span to an exporter that drops them.
 */
export async function installSdk(mode: TelemetryMode): Promise<() => Promise<void>> {
  if (mode === "metrics") return (await startScrapedMetrics(true)).stop;
  const { BatchSpanProcessor, TracerProvider } = await import("@opentelemetry/sdk-trace");
  const { registerTracerProvider } = await import("@rngbalance/telemetry");
  const provider = new TracerProvider({
    spanProcessors: [
      new BatchSpanProcessor({
        exporter: {
          export: (_spans, done) => done({ code: 0 }),
          shutdown: async () => {},
        },
      }),
    ],
  });
  const unregister = registerTracerProvider(provider);
  return async () => {
    await provider.shutdown();
    unregister();
  };
}

/**
 * The SDK's metrics as rng-client installs them (`startTelemetry`:
 * MeterProvider + Prometheus reader), globally or not (`global: false`: only
 * pools given `meterProvider` see it), with /metrics scraped every second so
 * that collection costs are in the figures. `stop` stops the scrapes and the SDK.
 */
export async function startScrapedMetrics(
  global: boolean,
): Promise<{ meterProvider: MeterProvider; stop: () => Promise<void> }> {
  const { startTelemetry } = await import("@rngbalance/telemetry");
  const telemetry = await startTelemetry({
    serviceName: "bench",
    metricsAddr: "127.0.0.1:0",
    env: {},
    global,
  });
  const meterProvider = telemetry.meterProvider;
  if (!meterProvider) throw new Error("startTelemetry installed no MeterProvider");
  const stopScraping = scrapeEverySecond(`http://${telemetry.metricsAddress}`);
  return {
    meterProvider,
    async stop() {
      stopScraping();
      await telemetry.shutdown();
    },
  };
}

/**
 * Fetches `${origin}/metrics` every second and drops the text, as
 * Prometheus would, so that collection and serialization costs are in the
 * figures. Failed scrapes are ignored. Returns what stops it.
 */
export function scrapeEverySecond(origin: string): () => void {
  const scraper = setInterval(() => {
    fetch(`${origin}/metrics`).then(
      (r) => r.arrayBuffer(),
      () => undefined,
    );
  }, 1000);
  return () => clearInterval(scraper);
}
