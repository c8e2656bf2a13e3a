import * as http from "node:http";
import type { AddressInfo, Socket } from "node:net";
import { PrometheusSerializer } from "@opentelemetry/exporter-prometheus";
import type { MetricReader } from "@opentelemetry/sdk-metrics";
import { withUnitSuffixes } from "./prometheus-naming.js";

/** A running `/metrics` endpoint. */
export interface MetricsServer {
  /** "host:port" it listens on (the real port when 0 was asked). */
  readonly address: string;
  /** Stops listening and closes every connection, idle or not; the process is then free to exit. */
  close(): Promise<void>;
}

/** Splits "host:port", "[::1]:9464" or ":9464" (all interfaces). @throws Error naming what is wrong. */
export function parseHostPort(text: string): { host: string | undefined; port: number } {
  const m = /^(?:\[([^\]]+)\]|([^:[\]]*)):(\d{1,5})$/.exec(text.trim());
  const port = Number(m?.[3]);
  if (!m || port > 65535)
    throw new Error(`"${text}" is not host:port (e.g. 0.0.0.0:9464, [::1]:9464, :9464)`);
  const host = m[1] ?? m[2];
  return { host: host === "" ? undefined : host, port };
}

/**
 * Serves Prometheus text at `/metrics` from `reader` (an exporter-prometheus
 * PrometheusExporter that does not start its own server), with
 * OpenTelemetry's Prometheus names. Every socket is tracked, so close()
 * ends scrapes' keep-alive connections too.
 */
export async function startMetricsServer(reader: MetricReader, address: string): Promise<MetricsServer> {
  const { host, port } = parseHostPort(address);
  const serializer = new PrometheusSerializer();
  const sockets = new Set<Socket>();
  const server = http.createServer((req, res) => {
    const path = (req.url ?? "/").split("?", 1)[0];
    if (req.method !== "GET" || path !== "/metrics") {
      res.writeHead(path === "/metrics" ? 405 : 404).end();
      return;
    }
    reader.collect().then(
      ({ resourceMetrics }) => {
        res.writeHead(200, { "content-type": "text/plain; version=0.0.4; charset=utf-8" });
        res.end(serializer.serialize(withUnitSuffixes(resourceMetrics)));
      },
      (err: unknown) => res.writeHead(500).end(`# failed to collect metrics: ${String(err)}\n`),
    );
  });
  server.on("connection", (socket: Socket) => {
    sockets.add(socket);
    socket.once("close", () => sockets.delete(socket));
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(port, host, () => {
      server.off("error", reject);
      resolve();
    });
  });
  const bound = server.address() as AddressInfo;
  return {
    address: bound.family === "IPv6" ? `[${bound.address}]:${bound.port}` : `${bound.address}:${bound.port}`,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        for (const socket of sockets) socket.destroy();
      }),
  };
}
