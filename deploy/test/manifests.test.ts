import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { fileURLToPath } from "node:url";
import { crossCheck, podSecurityProblems, quantity, readContract, resourceProblems } from "./checks.js";
import { containersOf, type K8sObject, kustomize, readYaml, splitImage } from "./kustomize.js";
import { schemaProblems } from "./schema.js";

const here = (path: string) => fileURLToPath(new URL(path, import.meta.url));
const base = () => kustomize(here("../k8s/base"));
const overlay = () => kustomize(here("../k8s/overlays/example"));
const app = readContract(here("../../"));

/** Rendered YAML is untyped data; the tests reach into it freely. */
// biome-ignore lint/suspicious/noExplicitAny: test fixtures are plain parsed YAML
type Loose = any;
const find = (objects: K8sObject[], kind: string, name: string): Loose =>
  objects.find((o) => o.kind === kind && o.metadata.name === name);
const server = (o: K8sObject[]): Loose => find(o, "Deployment", "rng").spec.template.spec.containers[0];
const client = (o: K8sObject[]): Loose =>
  find(o, "Deployment", "rng-client").spec.template.spec.containers[0];

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
    assert.ok(
      base().every((x) => x.metadata.namespace === undefined),
      "the base is namespace-agnostic",
    );
    assert.deepEqual(
      containersOf(base()).map((c) => c.image),
      ["rngbalance/server", "rngbalance/client"],
    );
    const o = overlay();
    assert.deepEqual(names(o), ["Namespace/rngbalance", ...names(base())].sort());
    assert.ok(o.filter((x) => x.kind !== "Namespace").every((x) => x.metadata.namespace === "rngbalance"));
    const ns = find(o, "Namespace", "rngbalance");
    assert.equal(ns.metadata.namespace, undefined);
    assert.equal(ns.metadata.labels["pod-security.kubernetes.io/enforce"], "restricted");
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

  it("render: every images entry of the overlay names an image of the base (kustomize ignores a miss)", () => {
    const used = new Set(containersOf(base()).map((c) => splitImage(c.image).name));
    const k = readYaml(here("../k8s/overlays/example/kustomization.yaml"))[0] as Loose;
    for (const image of k.images)
      assert.ok(used.has(image.name), `images: ${image.name} matches no container`);
  });

  it("schema: every rendered object matches the Kubernetes OpenAPI schema, with no unknown field", async () => {
    for (const o of [...base(), ...overlay()]) assert.deepEqual(await schemaProblems(o), []);
  });

  const schemaMutations: [string, (o: K8sObject[]) => K8sObject, RegExp][] = [
    [
      "a wrong type",
      (o) => {
        const d = find(o, "Deployment", "rng");
        d.spec.replicas = "three";
        return d;
      },
      /Deployment\/rng: .*replicas must be integer/,
    ],
    [
      "a missing required field",
      (o) => {
        const d = find(o, "Deployment", "rng");
        delete server(o).name;
        return d;
      },
      /containers\/0 must have required property name/,
    ],
    [
      "a misspelt field",
      (o) => {
        const d = find(o, "Deployment", "rng");
        server(o).readinessprobe = server(o).readinessProbe;
        return d;
      },
      /unknown field spec\.template\.spec\.containers\[0\]\.readinessprobe/,
    ],
    [
      "a misspelt Service field",
      (o) => {
        const s = find(o, "Service", "rng-headless");
        s.spec.publishNotReadyAdresses = false;
        return s;
      },
      /unknown field spec\.publishNotReadyAdresses/,
    ],
    [
      "a misspelt field inside a map of objects",
      (o) => {
        const d = find(o, "Deployment", "rng");
        server(o).securityContext.readOnlyRootFileSystem = true;
        return d;
      },
      /unknown field .*securityContext\.readOnlyRootFileSystem/,
    ],
  ];
  for (const [what, mutate, expected] of schemaMutations) {
    it(`schema catches ${what}`, async () => {
      const bad = mutate(base());
      assert.match((await schemaProblems(bad)).join("\n"), expected);
    });
  }

  it("cross-check: selectors, ports, probes, drain timing, env, client target and RBAC agree", () => {
    assert.deepEqual(crossCheck(base(), app), []);
    assert.deepEqual(crossCheck(overlay(), app), []);
  });

  it("cross-check: the contract read from the apps is the one the manifests assume", () => {
    assert.equal(app.serverPort, 8081);
    for (const v of [
      "RNG_PORT",
      "RNG_DRAIN_TIMEOUT_MS",
      "RNG_SHUTDOWN_DELAY_MS",
      "RNG_MAX_CONNECTION_AGE_MS",
    ])
      assert.ok(app.serverEnv.has(v), v);
    for (const f of ["target", "policy", "interval", "count"]) assert.ok(app.clientFlags.has(f), f);
  });

  it("pod security: both Deployments meet the restricted Pod Security Standard and mount / read-only", () => {
    assert.deepEqual(podSecurityProblems(overlay()), []);
  });

  it("resources: every container has cpu and memory requests within its limits", () => {
    assert.deepEqual(resourceProblems(overlay()), []);
    assert.equal(quantity("100m"), 0.1);
    assert.equal(quantity("64Mi"), 64 * 2 ** 20);
    assert.equal(quantity("1G"), 1e9);
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
      "a Service targetPort that is not the gRPC port",
      (o) => {
        find(o, "Service", "rng-cluster").spec.ports[0].targetPort = "http";
      },
      /Service rng-cluster: targetPort http is not the server's port/,
    ],
    [
      "a Service without appProtocol h2c",
      (o) => {
        delete find(o, "Service", "rng-cluster").spec.ports[0].appProtocol;
      },
      /rng-cluster: appProtocol is not kubernetes.io\/h2c/,
    ],
    [
      "a container port other than rng-server's",
      (o) => {
        server(o).ports[0].containerPort = 9090;
      },
      /server container port grpc is not rng-server's port 8081/,
    ],
    [
      "a probe on the wrong port",
      (o) => {
        server(o).readinessProbe.grpc.port = 9090;
      },
      /readinessProbe is not a gRPC probe on port 8081/,
    ],
    [
      "a probe of a health service the server does not report",
      (o) => {
        server(o).livenessProbe.grpc.service = "rng.Nope";
      },
      /livenessProbe checks health service "rng.Nope"/,
    ],
    [
      "an HTTP probe instead of gRPC",
      (o) => {
        server(o).startupProbe = { httpGet: { port: 8081, path: "/" } };
      },
      /startupProbe is not a gRPC probe/,
    ],
    [
      "a grace period shorter than the drain",
      (o) => {
        find(o, "Deployment", "rng").spec.template.spec.terminationGracePeriodSeconds = 10;
      },
      /terminationGracePeriodSeconds 10 <= preStop 5 \+ shutdown delay 2 \+ drain 10/,
    ],
    [
      "a drain timeout longer than the grace period",
      (o) => {
        server(o).env.find((e: Loose) => e.name === "RNG_DRAIN_TIMEOUT_MS").value = "25000";
      },
      /terminationGracePeriodSeconds 30 <= preStop 5 \+ shutdown delay 2 \+ drain 25/,
    ],
    [
      "an exec preStop sleep too long for the grace period",
      (o) => {
        server(o).lifecycle.preStop = { exec: { command: ["sleep", "20"] } };
      },
      /<= preStop 20 \+/,
    ],
    [
      "no preStop at all",
      (o) => {
        delete server(o).lifecycle;
      },
      /server has no preStop sleep/,
    ],
    [
      "an env var rng-server does not read",
      (o) => {
        server(o).env.push({ name: "RNG_DRAIN_TIMEOUT", value: "1" });
      },
      /server env RNG_DRAIN_TIMEOUT is not read by rng-server/,
    ],
    [
      "a Service whose links would set RNG_PORT",
      (o) => {
        const svc = structuredClone(find(o, "Service", "rng-cluster"));
        svc.metadata.name = "rng";
        o.push(svc);
        find(o, "Deployment", "rng").spec.template.spec.enableServiceLinks = true;
        server(o).env = server(o).env.filter((e: Loose) => e.name !== "RNG_PORT");
      },
      /Service rng injects RNG_PORT, which rng-server reads/,
    ],
    [
      "a headless Service that is not headless",
      (o) => {
        delete find(o, "Service", "rng-headless").spec.clusterIP;
      },
      /rng-headless is not headless/,
    ],
    [
      "a headless Service that publishes not-ready pods",
      (o) => {
        find(o, "Service", "rng-headless").spec.publishNotReadyAddresses = true;
      },
      /rng-headless does not set publishNotReadyAddresses: false/,
    ],
    [
      "a PDB selecting nothing",
      (o) => {
        find(o, "PodDisruptionBudget", "rng").spec.selector.matchLabels = { app: "other" };
      },
      /PodDisruptionBudget rng: selector matches no rng pod/,
    ],
    [
      "a PDB that blocks every eviction",
      (o) => {
        find(o, "PodDisruptionBudget", "rng").spec.minAvailable = 3;
      },
      /minAvailable 3 >= replicas 3/,
    ],
    [
      "a topology spread selecting no pod",
      (o) => {
        find(
          o,
          "Deployment",
          "rng",
        ).spec.template.spec.topologySpreadConstraints[0].labelSelector.matchLabels = {
          app: "x",
        };
      },
      /topologySpreadConstraint selects no rng pod/,
    ],
    [
      "a client dialing the ClusterIP Service",
      (o) => {
        client(o).args[1] = "dns:///rng-cluster.$(POD_NAMESPACE).svc.cluster.local:8081";
      },
      /rng-client target "dns:\/\/\/rng-cluster/,
    ],
    [
      "a client dialing another port",
      (o) => {
        client(o).args[1] = "dns:///rng-headless.$(POD_NAMESPACE).svc.cluster.local:9090";
      },
      /is not dns:\/\/\/rng-headless.<namespace>.svc.cluster.local:8081/,
    ],
    [
      "a client target namespace variable the pod does not define",
      (o) => {
        client(o).env = [];
      },
      /uses \$\(POD_NAMESPACE\), which is not its pod's namespace/,
    ],
    [
      "a client flag rng-client does not have",
      (o) => {
        client(o).args.push("--balancer", "x");
      },
      /rng-client has no flag --balancer/,
    ],
    [
      "a kubernetes:/// target on a port name the Service lacks",
      (o) => {
        client(o).args[1] = "kubernetes:///rng-headless:http";
      },
      /is not kubernetes:\/\/\/rng-headless/,
    ],
    [
      "RBAC without watch",
      (o) => {
        find(o, "Role", "endpointslice-reader").rules[0].verbs = ["get", "list"];
      },
      /may not list and watch endpointslices/,
    ],
    [
      "RBAC bound to another service account",
      (o) => {
        find(o, "RoleBinding", "rng-client-endpointslice-reader").subjects[0].name = "default";
      },
      /may not list and watch endpointslices/,
    ],
    [
      "a client service account that does not exist",
      (o) => {
        find(o, "Deployment", "rng-client").spec.template.spec.serviceAccountName = "ghost";
      },
      /service account ghost is not defined/,
    ],
  ];
  for (const [what, mutate, expected] of mutations) {
    it(`cross-check catches ${what}`, () => {
      const objects = base();
      mutate(objects);
      assert.match(crossCheck(objects, app).join("\n"), expected);
    });
  }
  it("cross-check catches, in the overlay, a client target fixed to another namespace", () => {
    const objects = overlay();
    client(objects).args[1] = "dns:///rng-headless.default.svc.cluster.local:8081";
    assert.match(crossCheck(objects, app).join("\n"), /namespace default is not the Service's rngbalance/);
  });

  const securityMutations: [string, (objects: K8sObject[]) => void, RegExp][] = [
    [
      "privilege escalation",
      (o) => {
        server(o).securityContext.allowPrivilegeEscalation = true;
      },
      /container server: allowPrivilegeEscalation is not false/,
    ],
    [
      "a root pod",
      (o) => {
        find(o, "Deployment", "rng-client").spec.template.spec.securityContext.runAsNonRoot = false;
      },
      /container client: runAsNonRoot is not true/,
    ],
    [
      "kept capabilities",
      (o) => {
        server(o).securityContext.capabilities = { add: ["NET_ADMIN"] };
      },
      /does not drop ALL capabilities[\s\S]*adds capabilities/,
    ],
    [
      "no seccomp profile",
      (o) => {
        delete find(o, "Deployment", "rng").spec.template.spec.securityContext.seccompProfile;
      },
      /container server: seccompProfile is not RuntimeDefault/,
    ],
    [
      "a writable root filesystem",
      (o) => {
        client(o).securityContext.readOnlyRootFilesystem = false;
      },
      /container client: root filesystem is writable/,
    ],
  ];
  for (const [what, mutate, expected] of securityMutations) {
    it(`pod security catches ${what}`, () => {
      const objects = base();
      mutate(objects);
      assert.match(podSecurityProblems(objects).join("\n"), expected);
    });
  }

  it("resources catch a missing limit and a request above its limit", () => {
    const objects = base();
    delete server(objects).resources.limits.memory;
    client(objects).resources.requests.cpu = "2";
    const problems = resourceProblems(objects).join("\n");
    assert.match(problems, /container server: no memory request and limit/);
    assert.match(problems, /container client: cpu request 2 is above its limit 500m/);
  });
});
