import assert from "node:assert/strict";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, relative } from "node:path";
import { after, describe, it } from "node:test";
import { fileURLToPath } from "node:url";
import { type K8sObject, kustomize, readYaml } from "./kustomize.js";
import { schemaProblems } from "./schema.js";

const here = (path: string) => fileURLToPath(new URL(path, import.meta.url));
const base = () => kustomize(here("../k8s/base"));
const monitoring = () => kustomize(here("../k8s/overlays/monitoring"));

// biome-ignore lint/suspicious/noExplicitAny: rendered YAML is untyped data
type Loose = any;
const find = (objects: K8sObject[], kind: string, name: string): Loose =>
  objects.find((o) => o.kind === kind && o.metadata.name === name);
const pod = (objects: K8sObject[], name: string): Loose => find(objects, "Deployment", name).spec.template;
const selects = (selector: Record<string, string>, labels: Record<string, string> = {}) =>
  Object.entries(selector).every(([k, v]) => labels[k] === v);

describe("metrics in the manifests", () => {
  it("server and client expose a port named metrics, announced to Prometheus and served by the app", () => {
    const o = base();
    for (const name of ["rng", "rng-client"]) {
      const template = pod(o, name);
      const container = template.spec.containers[0];
      const port = container.ports.find((p: Loose) => p.name === "metrics");
      assert.ok(port, `${name}: no port named metrics`);
      const a = template.metadata.annotations ?? {};
      assert.equal(a["prometheus.io/scrape"], "true", name);
      assert.equal(Number(a["prometheus.io/port"]), port.containerPort, `${name}: prometheus.io/port`);
      assert.equal(a["prometheus.io/path"], "/metrics");
      // The app must actually listen there: RNG_METRICS_ADDR (server) or --metrics-addr (client).
      const fromEnv = container.env?.find((e: Loose) => e.name === "RNG_METRICS_ADDR")?.value;
      const args: string[] = container.args ?? [];
      const fromArgs = args[args.indexOf("--metrics-addr") + 1];
      const addr = name === "rng" ? fromEnv : fromArgs;
      assert.match(String(addr), /^0\.0\.0\.0:\d+$/, `${name}: metrics address on every interface`);
      assert.equal(Number(String(addr).split(":")[1]), port.containerPort, `${name}: metrics address port`);
    }
  });

  it("the monitoring overlay adds metrics Services and a ServiceMonitor that reach both apps", async () => {
    const o = monitoring();
    const names = o.map((x) => `${x.kind}/${x.metadata.name}`);
    for (const n of ["Service/rng-metrics", "Service/rng-client-metrics", "ServiceMonitor/rngbalance"]) {
      assert.ok(names.includes(n), `${n} missing: ${names}`);
    }
    assert.ok(o.filter((x) => x.kind !== "Namespace").every((x) => x.metadata.namespace === "rngbalance"));
    for (const x of o.filter((x) => x.kind !== "ServiceMonitor"))
      assert.deepEqual(await schemaProblems(x), []);
    const sm = find(o, "ServiceMonitor", "rngbalance");
    assert.equal(sm.apiVersion, "monitoring.coreos.com/v1");
    assert.deepEqual(Object.keys(sm.spec).sort(), ["endpoints", "selector"]);
    for (const e of sm.spec.endpoints) {
      assert.deepEqual(
        Object.keys(e).sort(),
        ["interval", "path", "port", "scrapeTimeout"],
        "known fields only",
      );
      assert.equal(e.path, "/metrics");
    }
    const services = o.filter(
      (x) => x.kind === "Service" && selects(sm.spec.selector.matchLabels, x.metadata.labels),
    );
    assert.deepEqual(services.map((s) => s.metadata.name).sort(), ["rng-client-metrics", "rng-metrics"]);
    for (const svc of services as Loose[]) {
      for (const e of sm.spec.endpoints) {
        assert.ok(
          svc.spec.ports.some((p: Loose) => p.name === e.port),
          `${svc.metadata.name} has no port ${e.port}`,
        );
      }
      const deployments = o.filter(
        (x) =>
          x.kind === "Deployment" && selects(svc.spec.selector, pod([x], x.metadata.name).metadata.labels),
      );
      assert.equal(deployments.length, 1, `${svc.metadata.name} selects one workload`);
      const containerPorts = pod(deployments, deployments[0]?.metadata.name ?? "").spec.containers[0].ports;
      for (const p of svc.spec.ports) {
        assert.ok(
          containerPorts.some((c: Loose) => c.name === p.targetPort),
          `${svc.metadata.name}: targetPort ${p.targetPort}`,
        );
      }
    }
    // Not on rng-headless: a second port there would add SRV records under the name clients resolve.
    assert.deepEqual(
      find(o, "Service", "rng-headless").spec.ports.map((p: Loose) => p.name),
      ["grpc"],
    );
  });

  const scratch: string[] = [];
  after(() => {
    for (const d of scratch) rmSync(d, { recursive: true, force: true });
  });
  it("the renderer: a Component only under components, a Kustomization only under resources", () => {
    const dir = mkdtempSync(join(tmpdir(), "kustomize-component-"));
    scratch.push(dir);
    writeFileSync(
      join(dir, "kustomization.yaml"),
      `apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\nresources:\n  - ${relative(dir, here("../k8s/components/monitoring"))}\n`,
    );
    assert.throws(() => kustomize(dir), /a Component is listed under resources/);
    writeFileSync(
      join(dir, "kustomization.yaml"),
      `apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\ncomponents:\n  - ${relative(dir, here("../k8s/base"))}\n`,
    );
    assert.throws(() => kustomize(dir), /only a Component can be listed under components/);
    assert.equal(readYaml(here("../k8s/components/monitoring/kustomization.yaml"))[0]?.kind, "Component");
  });
});
