import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { fileURLToPath } from "node:url";
import { crossCheck } from "./checks.js";
import { containersOf, type K8sObject, kustomize } from "./kustomize.js";

const dir = (path: string) => fileURLToPath(new URL(`../k8s/${path}`, import.meta.url));
const base = () => kustomize(dir("base"));
const overlay = () => kustomize(dir("overlays/example"));

/** Validates an object against the Kubernetes OpenAPI schema of its kind (kubernetes-models). */
async function validate(o: K8sObject): Promise<void> {
  const module = (await import(`kubernetes-models/${o.apiVersion}`)) as Record<
    string,
    new (
      data: unknown,
    ) => { validate(): void }
  >;
  const Model = module[o.kind];
  assert.ok(Model, `no schema for ${o.apiVersion} ${o.kind}`);
  new Model(o).validate();
}

/** Rendered YAML is untyped data; the tests reach into it freely. */
// biome-ignore lint/suspicious/noExplicitAny: test fixtures are plain parsed YAML
type Loose = any;
const find = (objects: K8sObject[], kind: string, name: string): Loose =>
  objects.find((o) => o.kind === kind && o.metadata.name === name);

describe("Kubernetes manifests", () => {
  it("render: the base has every object, the overlay adds the namespace, images and replicas", () => {
    const names = (objects: K8sObject[]) => objects.map((o) => `${o.kind}/${o.metadata.name}`).sort();
    assert.deepEqual(names(base()), [
      "Deployment/rng",
      "Deployment/rng-client",
      "PodDisruptionBudget/rng",
      "Role/endpointslice-reader",
      "RoleBinding/rng-client-endpointslice-reader",
      "Service/rng-cluster",
      "Service/rng-headless",
      "ServiceAccount/rng-client",
    ]);
    const o = overlay();
    assert.deepEqual(names(o), ["Namespace/rngbalance", ...names(base())].sort());
    assert.ok(o.filter((x) => x.kind !== "Namespace").every((x) => x.metadata.namespace === "rngbalance"));
    assert.equal(find(o, "Namespace", "rngbalance").metadata.namespace, undefined);
    assert.deepEqual(
      containersOf(o).map((c) => c.image),
      ["registry.example.com/rngbalance/server:0.1.0", "registry.example.com/rngbalance/client:0.1.0"],
    );
    assert.equal(find(o, "Deployment", "rng").spec.replicas, 5);
    assert.equal(find(base(), "Deployment", "rng").spec.replicas, 3);
    const binding = find(o, "RoleBinding", "rng-client-endpointslice-reader");
    assert.equal(binding.subjects[0]?.namespace, "rngbalance");
    assert.ok(
      o
        .filter((x) => x.kind !== "Namespace")
        .every((x) => x.metadata.labels?.["app.kubernetes.io/part-of"] === "rngbalance"),
    );
  });

  it("validate: every rendered object matches the Kubernetes OpenAPI schema", async () => {
    for (const o of [...base(), ...overlay()]) await validate(o);
  });

  it("validate: the schema check catches a malformed object", async () => {
    const bad = structuredClone(find(base(), "Deployment", "rng"));
    bad.spec.replicas = "three";
    await assert.rejects(validate(bad));
  });

  it("cross-check: selectors, ports, probes, drain timing, client target and RBAC agree", () => {
    assert.deepEqual(crossCheck(base()), []);
    assert.deepEqual(crossCheck(overlay()), []);
  });

  const mutations: [string, (objects: K8sObject[]) => void, RegExp][] = [
    [
      "a Service selector that matches no pod",
      (o) => {
        find(o, "Service", "rng-headless").spec.selector = { app: "nope" };
      },
      /Service rng-headless: selector matches no rng pod/,
    ],
    [
      "a probe on the wrong port",
      (o) => {
        const c: Loose = containersOf([find(o, "Deployment", "rng")])[0];
        c.readinessProbe.grpc.port = 9090;
      },
      /readinessProbe is not a gRPC probe on port 8081/,
    ],
    [
      "a grace period shorter than the drain",
      (o) => {
        find(o, "Deployment", "rng").spec.template.spec.terminationGracePeriodSeconds = 10;
      },
      /terminationGracePeriodSeconds 10 <= preStop 5 \+ shutdown delay 2 \+ drain 10/,
    ],
    [
      "a headless Service that is not headless",
      (o) => {
        delete find(o, "Service", "rng-headless").spec.clusterIP;
      },
      /rng-headless is not headless/,
    ],
    [
      "a client dialing the ClusterIP Service",
      (o) => {
        const c: Loose = containersOf([find(o, "Deployment", "rng-client")])[0];
        c.args[1] = "dns:///rng-cluster:8081";
      },
      /rng-client target "dns:\/\/\/rng-cluster:8081"/,
    ],
    [
      "RBAC without watch",
      (o) => {
        find(o, "Role", "endpointslice-reader").rules[0]!.verbs = ["get", "list"];
      },
      /may not list and watch endpointslices/,
    ],
  ];
  for (const [what, mutate, expected] of mutations) {
    it(`cross-check catches ${what}`, () => {
      const objects = base();
      mutate(objects);
      assert.match(crossCheck(objects).join("\n"), expected);
    });
  }
});
