/**
 * The part of kustomize these manifests use, so CI can render them without
 * a kubectl binary: resources (files and directories), `namespace`,
 * `labels` (metadata only), `images` and `patches` (strategic merge of maps,
 * enough for replicas and env). kustomize.test.ts pins its output.
 */
import { readFileSync, statSync } from "node:fs";
import { join } from "node:path";
import { parseAllDocuments } from "yaml";

/** A Kubernetes object as plain data. */
export type K8sObject = {
  apiVersion: string;
  kind: string;
  metadata: { name: string; namespace?: string; labels?: Record<string, string> };
  [key: string]: unknown;
};

interface Kustomization {
  resources?: string[];
  namespace?: string;
  labels?: { pairs: Record<string, string>; includeSelectors?: boolean }[];
  images?: { name: string; newName?: string; newTag?: string }[];
  patches?: { target: { kind: string; name: string }; patch: string }[];
}

/** Kinds that live outside namespaces (of those this repo uses). */
const CLUSTER_SCOPED = new Set(["Namespace", "ClusterRole", "ClusterRoleBinding"]);

/** Reads every YAML document of a file. */
export function readYaml(path: string): K8sObject[] {
  return parseAllDocuments(readFileSync(path, "utf8"))
    .map((d) => d.toJS() as K8sObject | null)
    .filter((d): d is K8sObject => d !== null);
}

/** Renders the kustomization in `dir`, as `kubectl kustomize dir` would. */
export function kustomize(dir: string): K8sObject[] {
  const k = readYaml(join(dir, "kustomization.yaml"))[0] as unknown as Kustomization;
  let objects: K8sObject[] = [];
  for (const resource of k.resources ?? []) {
    const path = join(dir, resource);
    objects.push(...(statSync(path).isDirectory() ? kustomize(path) : readYaml(path)));
  }
  for (const { pairs } of k.labels ?? []) {
    for (const o of objects) o.metadata.labels = { ...o.metadata.labels, ...pairs };
  }
  for (const patch of k.patches ?? []) {
    const body = readYamlText(patch.patch);
    const target = objects.find((o) => o.kind === patch.target.kind && o.metadata.name === patch.target.name);
    if (!target)
      throw new Error(`patch target ${patch.target.kind}/${patch.target.name} not found in ${dir}`);
    objects = objects.map((o) => (o === target ? (merge(o, body) as K8sObject) : o));
  }
  if (k.namespace) {
    for (const o of objects) {
      if (!CLUSTER_SCOPED.has(o.kind)) o.metadata.namespace = k.namespace;
      // kustomize also moves ServiceAccount subjects of bindings into the namespace.
      if (o.kind === "RoleBinding" || o.kind === "ClusterRoleBinding") {
        for (const s of (o.subjects as { kind: string; namespace?: string }[]) ?? []) {
          if (s.kind === "ServiceAccount") s.namespace = k.namespace;
        }
      }
    }
  }
  for (const image of k.images ?? []) {
    for (const c of containersOf(objects)) {
      const [name, tag] = splitImage(c.image);
      if (name !== image.name) continue;
      c.image = `${image.newName ?? name}${image.newTag ? `:${image.newTag}` : tag ? `:${tag}` : ""}`;
    }
  }
  return objects;
}

/** Every container of every pod template. */
export function containersOf(objects: K8sObject[]): { name: string; image: string; [k: string]: unknown }[] {
  return objects.flatMap((o) => {
    const spec = (o.spec as { template?: { spec?: { containers?: [] } } } | undefined)?.template?.spec;
    return spec?.containers ?? [];
  });
}

function splitImage(image: string): [string, string | undefined] {
  const colon = image.lastIndexOf(":");
  return colon > image.lastIndexOf("/")
    ? [image.slice(0, colon), image.slice(colon + 1)]
    : [image, undefined];
}

function readYamlText(text: string): Record<string, unknown> {
  return parseAllDocuments(text)[0]?.toJS() as Record<string, unknown>;
}

/** Strategic merge for maps: the patch's scalars and lists replace, its maps merge. */
function merge(base: unknown, patch: unknown): unknown {
  if (typeof base !== "object" || base === null || Array.isArray(base)) return patch;
  if (typeof patch !== "object" || patch === null || Array.isArray(patch)) return patch;
  const out: Record<string, unknown> = { ...(base as Record<string, unknown>) };
  for (const [k, v] of Object.entries(patch)) out[k] = merge(out[k], v);
  return out;
}
