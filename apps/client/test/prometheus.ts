import { type ChildProcess, execFileSync, spawn } from "node:child_process";
import { once } from "node:events";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import * as path from "node:path";
import { findOrInstallCommand, freePort } from "@rngbalance/testkit";

/**
 * The `prometheus` binary: on PATH, or installed now with apt-get (Debian's
 * package `prometheus`) when running as root. Returns the path, or why it
 * cannot be had (the test then skips, saying so).
 */
export function findOrInstallPrometheus(): { binary: string } | { skip: string } {
  const found = findOrInstallCommand("prometheus", "prometheus");
  return "path" in found ? { binary: found.path } : { skip: found.missing };
}

/** A Prometheus server started by a test. */
export interface Prometheus {
  /** http://127.0.0.1:port */
  readonly url: string;
  /** Runs an instant PromQL query; returns the result vector as [labels, value]. */
  query(promql: string): Promise<{ labels: Record<string, string>; value: number }[]>;
  /** Every metric name it has stored. */
  names(): Promise<string[]>;
  /** Stops it and removes its data. */
  stop(): Promise<void>;
}

/** Starts Prometheus on a free loopback port, scraping `jobs` every second; resolves when ready. */
export async function startPrometheus(
  binary: string,
  jobs: Record<string, readonly string[]>,
): Promise<Prometheus> {
  const dir = mkdtempSync(path.join(tmpdir(), "rng-prometheus-"));
  const scrapeConfigs = Object.entries(jobs)
    .map(
      ([job, targets]) =>
        `  - job_name: ${job}\n    static_configs:\n      - targets: [${targets.map((t) => `"${t}"`).join(", ")}]`,
    )
    .join("\n");
  writeFileSync(
    path.join(dir, "prometheus.yml"),
    `global:\n  scrape_interval: 1s\n  scrape_timeout: 900ms\nscrape_configs:\n${scrapeConfigs}\n`,
  );
  const port = await freePort();
  const url = `http://127.0.0.1:${port}`;
  const child: ChildProcess = spawn(
    binary,
    [
      `--config.file=${path.join(dir, "prometheus.yml")}`,
      `--storage.tsdb.path=${path.join(dir, "data")}`,
      `--web.listen-address=127.0.0.1:${port}`,
      "--log.level=warn",
    ],
    { stdio: ["ignore", "ignore", "pipe"] },
  );
  let stderr = "";
  child.stderr?.setEncoding("utf8").on("data", (c: string) => {
    stderr += c;
  });
  const exited = once(child, "exit");
  const stop = async () => {
    if (child.exitCode === null && child.signalCode === null) {
      child.kill("SIGTERM");
      const timer = setTimeout(() => child.kill("SIGKILL"), 5000);
      await exited;
      clearTimeout(timer);
    }
    rmSync(dir, { recursive: true, force: true });
  };
  const deadline = Date.now() + 30_000;
  for (;;) {
    if (child.exitCode !== null) {
      await stop();
      throw new Error(`prometheus exited: ${stderr.slice(-1000)}`);
    }
    const ready = await fetch(`${url}/-/ready`).then(
      (r) => r.ok,
      () => false,
    );
    if (ready) break;
    if (Date.now() > deadline) {
      await stop();
      throw new Error(`prometheus not ready within 30 s: ${stderr.slice(-1000)}`);
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  const api = async (p: string) => {
    const res = await fetch(`${url}${p}`);
    const body = (await res.json()) as { status: string; data: unknown; error?: string };
    if (body.status !== "success") throw new Error(`prometheus ${p}: ${body.error}`);
    return body.data;
  };
  return {
    url,
    async query(promql) {
      const data = (await api(`/api/v1/query?query=${encodeURIComponent(promql)}`)) as {
        result: { metric: Record<string, string>; value: [number, string] }[];
      };
      return data.result.map((r) => ({ labels: r.metric, value: Number(r.value[1]) }));
    },
    async names() {
      return (await api("/api/v1/label/__name__/values")) as string[];
    },
    stop,
  };
}

/** The version line of a prometheus binary, for the test's log. */
export function prometheusVersion(binary: string): string {
  return execFileSync(binary, ["--version"], { encoding: "utf8" }).split("\n", 1)[0] ?? "";
}
