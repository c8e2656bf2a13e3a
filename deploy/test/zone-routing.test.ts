/**
 * The zone-routing component: rendered over the example overlay, the client
 * watches EndpointSlices with --locality, learns its zone from the downward
 * API or its Node, and may read Nodes (cluster-scoped RBAC bound to its
 * service account in the overlay's namespace).
 */
import assert from "node:assert/strict";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, relative } from "node:path";
import { after, describe, it } from "node:test";
import { fileURLToPath } from "node:url";
import { type K8sObject, kustomize } from "./kustomize.js";
import { schemaProblems } from "./schema.js";

const here = (path: string) => fileURLToPath(new URL(path, import.meta.url));
// biome-ignore lint/suspicious/noExplicitAny: rendered YAML is untyped data
type Loose = any;
const find = (objects: K8sObject[], kind: string, name: string): Loose =>
  objects.find((o) => o.kind === kind && o.metadata.name === name);

describe("zone-routing component", () => {
  const scratch: string[] = [];
  after(() => {
    for (const d of scratch) rmSync(d, { recursive: true, force: true });
  });
  const render = (): K8sObject[] => {
    const dir = mkdtempSync(join(tmpdir(), "kustomize-zone-"));
    scratch.push(dir);
    writeFileSync(
      join(dir, "kustomization.yaml"),
      `apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\nnamespace: rngbalance\nresources:\n  - ${relative(dir, here("../k8s/overlays/example"))}\ncomponents:\n  - ${relative(dir, here("../k8s/components/zone-routing"))}\n`,
    );
    return kustomize(dir);
  };

  it("turns --locality on over a kubernetes:/// target, with the zone from the downward API and the node", () => {
    const client = find(render(), "Deployment", "rng-client").spec.template.spec.containers[0];
    assert.equal(client.args[0], "--target");
    assert.equal(client.args[1], "kubernetes:///rng-headless.$(POD_NAMESPACE):grpc");
    assert.equal(client.args.at(-1), "--locality");
    const env = Object.fromEntries(client.env.map((e: Loose) => [e.name, e.valueFrom?.fieldRef?.fieldPath]));
    assert.equal(env.RNG_ZONE, "metadata.labels['topology.kubernetes.io/zone']");
    assert.equal(env.NODE_NAME, "spec.nodeName");
    assert.equal(env.POD_NAMESPACE, "metadata.namespace", "declared before the target that uses it");
  });

  it("lets the client's service account get Nodes (only get, only nodes), bound in its namespace", () => {
    const o = render();
    const role = find(o, "ClusterRole", "rngbalance-node-zone-reader");
    assert.deepEqual(role.rules, [{ apiGroups: [""], resources: ["nodes"], verbs: ["get"] }]);
    const binding = find(o, "ClusterRoleBinding", "rngbalance-rng-client-node-zone-reader");
    assert.deepEqual(binding.subjects, [
      { kind: "ServiceAccount", name: "rng-client", namespace: "rngbalance" },
    ]);
    assert.equal(binding.roleRef.name, role.metadata.name);
    assert.equal(find(o, "Deployment", "rng-client").spec.template.spec.serviceAccountName, "rng-client");
    // The endpointslice reader stays: the resolver still lists and watches.
    assert.ok(find(o, "Role", "endpointslice-reader"));
  });

  it("renders objects the Kubernetes OpenAPI schema accepts", async () => {
    for (const o of render()) assert.deepEqual(await schemaProblems(o), [], `${o.kind}/${o.metadata.name}`);
  });
});
