/**
 * The part of kustomize (v5) these manifests use, so the tests can render
 * them without a kubectl binary: `resources` (files and directories),
 * `components` (kind Component, applied to everything accumulated so far),
 * `namespace`, `labels`, `commonLabels`, `commonAnnotations`, `images`,
 * `replicas`, `patches` (strategic merge and JSON 6902), `patchesStrategicMerge`
 * and `patchesJson6902`, applied in kustomize's order. A kustomization field
 * outside that subset is an error, never silently ignored.
 *
 * kustomize.test.ts pins each feature against output of the real kustomize
 * (checked-in goldens, and `kubectl kustomize` itself when it is installed).
 */
import { readFileSync, statSync } from "node:fs";
import { join } from "node:path";
import { parseAllDocuments } from "yaml";

/** A Kubernetes object as plain data. */
export type K8sObject = {
  apiVersion: string;
  kind: string;
  metadata: {
    name: string;
    namespace?: string;
    labels?: Record<string, string>;
    annotations?: Record<string, string>;
  };
  [key: string]: unknown;
};

type Json = null | boolean | number | string | Json[] | { [key: string]: Json };
type JsonObject = { [key: string]: Json };

/** Which objects a patch applies to. `kind`, `name` and `namespace` are anchored regular expressions. */
interface Target {
  group?: string;
  version?: string;
  kind?: string;
  name?: string;
  namespace?: string;
  labelSelector?: string;
  annotationSelector?: string;
}

interface Kustomization {
  apiVersion?: string;
  kind?: string;
  resources?: string[];
  components?: string[];
  namespace?: string;
  commonLabels?: Record<string, string>;
  commonAnnotations?: Record<string, string>;
  labels?: {
    pairs: Record<string, string>;
    includeSelectors?: boolean;
    includeTemplates?: boolean;
  }[];
  images?: { name: string; newName?: string; newTag?: string; digest?: string }[];
  replicas?: { name: string; count: number }[];
  patches?: { path?: string; patch?: string; target?: Target }[];
  patchesStrategicMerge?: string[];
  patchesJson6902?: { path?: string; patch?: string; target: Target }[];
}

const SUPPORTED = new Set([
  "apiVersion",
  "kind",
  "resources",
  "components",
  "namespace",
  "commonLabels",
  "commonAnnotations",
  "labels",
  "images",
  "replicas",
  "patches",
  "patchesStrategicMerge",
  "patchesJson6902",
]);

/** Kinds that live outside namespaces: kustomize's `namespace` leaves them alone. */
const CLUSTER_SCOPED = new Set([
  "Namespace",
  "ClusterRole",
  "ClusterRoleBinding",
  "CustomResourceDefinition",
  "PersistentVolume",
  "StorageClass",
  "PriorityClass",
  "IngressClass",
  "RuntimeClass",
  "APIService",
  "MutatingWebhookConfiguration",
  "ValidatingWebhookConfiguration",
  "ValidatingAdmissionPolicy",
  "ValidatingAdmissionPolicyBinding",
  "CSIDriver",
  "Node",
]);

/** Workloads whose pod template and selector kustomize's label transformers reach. */
const WORKLOADS = new Set(["Deployment", "ReplicaSet", "DaemonSet", "StatefulSet", "Job"]);

/** kustomize's "legacy" output order: these kinds first, in this order, then the rest, then webhooks. */
const ORDER_FIRST = [
  "Namespace",
  "ResourceQuota",
  "StorageClass",
  "CustomResourceDefinition",
  "ServiceAccount",
  "PodSecurityPolicy",
  "Role",
  "ClusterRole",
  "RoleBinding",
  "ClusterRoleBinding",
  "ConfigMap",
  "Secret",
  "Endpoints",
  "Service",
  "LimitRange",
  "PriorityClass",
  "PersistentVolume",
  "PersistentVolumeClaim",
  "Deployment",
  "StatefulSet",
  "CronJob",
  "PodDisruptionBudget",
];
const ORDER_LAST = ["MutatingWebhookConfiguration", "ValidatingWebhookConfiguration"];

/** Reads every YAML document of a file. */
export function readYaml(path: string): K8sObject[] {
  return parseYaml(readFileSync(path, "utf8"));
}

/** Every non-empty YAML document of a text. */
export function parseYaml(text: string): K8sObject[] {
  return parseAllDocuments(text)
    .map((d) => {
      if (d.errors.length > 0) throw new Error(d.errors.map((e) => e.message).join("; "));
      return d.toJS() as K8sObject | null;
    })
    .filter((d): d is K8sObject => d !== null);
}

/** Renders the kustomization in `dir`, as `kubectl kustomize dir` would, in kustomize's output order. */
export function kustomize(dir: string): K8sObject[] {
  return sortLikeKustomize(build(dir));
}

/**
 * Builds the kustomization in `dir`. A Component (kustomize's
 * `kind: Component`) gets the objects its parent accumulated so far
 * (`inherited`) and transforms them along with its own resources; a
 * Kustomization starts from nothing.
 */
function build(dir: string, inherited?: K8sObject[]): K8sObject[] {
  const k = readYaml(join(dir, "kustomization.yaml"))[0] as unknown as Kustomization;
  const unsupported = Object.keys(k).filter((key) => !SUPPORTED.has(key));
  if (unsupported.length > 0) {
    throw new Error(`${dir}/kustomization.yaml: unsupported field(s) ${unsupported.join(", ")}`);
  }
  const isComponent = k.kind === "Component";
  if (isComponent !== (inherited !== undefined)) {
    throw new Error(
      `${dir}: ${isComponent ? "a Component is listed under resources" : "only a Component can be listed under components"}`,
    );
  }
  let objects: K8sObject[] = [...(inherited ?? [])];
  for (const resource of k.resources ?? []) {
    const path = join(dir, resource);
    objects.push(...(statSync(path).isDirectory() ? build(path) : readYaml(path)));
  }
  // kustomize applies components after the resources, before this kustomization's own transformers.
  for (const component of k.components ?? []) objects = build(join(dir, component), objects);
  const ids = new Set<string>();
  for (const o of objects) {
    const id = `${o.apiVersion} ${o.kind} ${o.metadata.namespace ?? ""}/${o.metadata.name}`;
    if (ids.has(id)) throw new Error(`${dir}: ${id} is defined twice`);
    ids.add(id);
  }
  const patchText = (p: { path?: string; patch?: string }, what: string) => {
    if ((p.path === undefined) === (p.patch === undefined))
      throw new Error(`${dir}: ${what} needs exactly one of path and patch`);
    return p.path === undefined ? (p.patch as string) : readFileSync(join(dir, p.path), "utf8");
  };
  // kustomize's transformer order: patchesStrategicMerge, patches, namespace,
  // labels, annotations, patchesJson6902, replicas, images.
  for (const entry of k.patchesStrategicMerge ?? []) {
    const text = entry.includes("\n") ? entry : readFileSync(join(dir, entry), "utf8");
    for (const patch of parseYaml(text)) objects = applyStrategicMerge(objects, patch, undefined, dir);
  }
  for (const p of k.patches ?? []) {
    const docs = parseAllDocuments(patchText(p, "a patch")).map((d) => d.toJS() as Json);
    if (docs.length === 1 && Array.isArray(docs[0])) {
      if (!p.target) throw new Error(`${dir}: a JSON 6902 patch needs a target`);
      objects = applyJson6902(objects, docs[0], p.target, dir);
    } else {
      for (const doc of docs)
        objects = applyStrategicMerge(objects, doc as unknown as K8sObject, p.target, dir);
    }
  }
  if (k.namespace !== undefined) setNamespace(objects, k.namespace);
  if (k.commonLabels) addLabels(objects, k.commonLabels, true, true);
  for (const l of k.labels ?? []) {
    addLabels(
      objects,
      l.pairs,
      l.includeSelectors ?? false,
      l.includeSelectors || (l.includeTemplates ?? false),
    );
  }
  if (k.commonAnnotations) addAnnotations(objects, k.commonAnnotations);
  for (const p of k.patchesJson6902 ?? []) {
    const ops = parseAllDocuments(patchText(p, "a patchesJson6902 entry"))[0]?.toJS() as Json;
    if (!Array.isArray(ops)) throw new Error(`${dir}: a patchesJson6902 entry is not a list of operations`);
    objects = applyJson6902(objects, ops, p.target, dir);
  }
  for (const r of k.replicas ?? []) {
    const matched = objects.filter(
      (o) =>
        ["Deployment", "ReplicaSet", "StatefulSet", "ReplicationController"].includes(o.kind) &&
        o.metadata.name === r.name,
    );
    if (matched.length === 0) throw new Error(`${dir}: replicas: no workload named ${r.name}`);
    for (const o of matched) (o.spec as JsonObject).replicas = r.count;
  }
  for (const image of k.images ?? []) setImage(objects, image);
  return objects;
}

/** Output order of `kubectl kustomize` (kustomize's legacy sort): by kind rank, then by id. */
export function sortLikeKustomize(objects: K8sObject[]): K8sObject[] {
  const rank = (kind: string) => {
    const first = ORDER_FIRST.indexOf(kind);
    if (first >= 0) return first;
    const last = ORDER_LAST.indexOf(kind);
    return last >= 0 ? ORDER_FIRST.length + 1 + last : ORDER_FIRST.length;
  };
  const id = (o: K8sObject) =>
    `${o.apiVersion.includes("/") ? o.apiVersion : `~G_${o.apiVersion}`}_${o.kind}|${o.metadata.namespace ?? "~X"}|${o.metadata.name}`;
  return [...objects].sort(
    (a, b) => rank(a.kind) - rank(b.kind) || (id(a) < id(b) ? -1 : id(a) > id(b) ? 1 : 0),
  );
}

function groupVersion(apiVersion: string): { group: string; version: string } {
  const slash = apiVersion.indexOf("/");
  return slash < 0
    ? { group: "", version: apiVersion }
    : { group: apiVersion.slice(0, slash), version: apiVersion.slice(slash + 1) };
}

const anchored = (pattern: string) => new RegExp(`^(?:${pattern})$`);

/** Equality-based selectors (`a=b`, `a==b`, `a!=b`, `a`, `!a`), comma separated. */
function matchesSelector(selector: string, labels: Record<string, string> = {}): boolean {
  return selector.split(",").every((raw) => {
    const term = raw.trim();
    let m = /^([^!=\s]+)\s*(==|=|!=)\s*(\S*)$/.exec(term);
    if (m) {
      const [, key = "", op, value] = m;
      return op === "!=" ? labels[key] !== value : labels[key] === value;
    }
    m = /^(!?)([^!=\s(]+)$/.exec(term);
    if (m) return (m[1] === "!") !== (m[2] as string) in labels;
    throw new Error(`unsupported selector term "${term}"`);
  });
}

function matchesTarget(o: K8sObject, t: Target): boolean {
  const { group, version } = groupVersion(o.apiVersion);
  if (t.group !== undefined && t.group !== group) return false;
  if (t.version !== undefined && t.version !== version) return false;
  if (t.kind !== undefined && !anchored(t.kind).test(o.kind)) return false;
  if (t.name !== undefined && !anchored(t.name).test(o.metadata.name)) return false;
  if (t.namespace !== undefined && !anchored(t.namespace).test(o.metadata.namespace ?? "")) return false;
  if (t.labelSelector !== undefined && !matchesSelector(t.labelSelector, o.metadata.labels)) return false;
  if (t.annotationSelector !== undefined && !matchesSelector(t.annotationSelector, o.metadata.annotations))
    return false;
  return true;
}

function applyStrategicMerge(
  objects: K8sObject[],
  patch: K8sObject,
  target: Target | undefined,
  dir: string,
): K8sObject[] {
  const t: Target = target ?? {
    ...groupVersion(patch.apiVersion),
    kind: patch.kind,
    name: patch.metadata.name,
    ...(patch.metadata.namespace === undefined ? {} : { namespace: patch.metadata.namespace }),
  };
  // Without a target, the patch's own name is a plain name, not a pattern.
  const matched = objects.filter((o) =>
    target ? matchesTarget(o, t) : matchesTarget(o, { ...t, name: undefined }) && o.metadata.name === t.name,
  );
  if (matched.length === 0)
    throw new Error(`${dir}: no resource matches the patch target ${JSON.stringify(t)}`);
  return objects.map((o) => {
    if (!matched.includes(o)) return o;
    const body = structuredClone(patch) as unknown as JsonObject;
    if (target) {
      // With an explicit target, the patch's own identity does not rename the target.
      delete body.apiVersion;
      delete body.kind;
      const meta = body.metadata as JsonObject | undefined;
      if (meta) {
        delete meta.name;
        delete meta.namespace;
      }
    }
    return strategicMerge(o as unknown as Json, body, "") as unknown as K8sObject;
  });
}

/**
 * The merge key of a list field (the `x-kubernetes-patch-merge-key` of the
 * Kubernetes types), for the lists these manifests could patch; other lists
 * are replaced, as for types without a merge key.
 */
function mergeKey(field: string, items: Json[]): string | undefined {
  switch (field) {
    case "containers":
    case "initContainers":
    case "ephemeralContainers":
    case "env":
    case "volumes":
    case "imagePullSecrets":
    case "topologySpreadConstraints":
      return field === "topologySpreadConstraints" ? "topologyKey" : "name";
    case "volumeMounts":
    case "volumeDevices":
      return field === "volumeMounts" ? "mountPath" : "devicePath";
    case "ports": {
      // Container ports merge on containerPort, Service ports on port.
      const first = items.find((i) => i !== null && typeof i === "object") as JsonObject | undefined;
      return first && "containerPort" in first ? "containerPort" : "port";
    }
    default:
      return undefined;
  }
}

/** Strategic merge: maps merge (null deletes), keyed lists merge by key ($patch: delete removes), others replace. */
function strategicMerge(base: Json | undefined, patch: Json, field: string): Json {
  if (patch !== null && typeof patch === "object" && !Array.isArray(patch)) {
    if (patch.$patch === "replace") {
      const { $patch: _, ...rest } = patch;
      return rest;
    }
    const out: JsonObject =
      base !== null && typeof base === "object" && !Array.isArray(base) ? { ...base } : {};
    for (const [k, v] of Object.entries(patch)) {
      if (v === null) delete out[k];
      else out[k] = strategicMerge(out[k], v, k);
    }
    return out;
  }
  if (Array.isArray(patch) && Array.isArray(base)) {
    const key = mergeKey(field, [...patch, ...base]);
    const isMap = (x: Json | undefined): x is JsonObject =>
      x !== null && typeof x === "object" && !Array.isArray(x);
    if (key === undefined || !patch.every(isMap) || !base.every(isMap)) return patch;
    // kustomize (kyaml) order: the patch's items, merged into the matching
    // originals, then the originals the patch does not name, in their order.
    const out: Json[] = [];
    for (const item of patch) {
      if (item.$patch === "delete") continue;
      out.push(
        strategicMerge(
          base.find((b) => b[key] === item[key]),
          item,
          "",
        ),
      );
    }
    for (const b of base) if (!patch.some((item) => item[key] === b[key])) out.push(b);
    return out;
  }
  return patch;
}

function applyJson6902(objects: K8sObject[], ops: Json[], target: Target, dir: string): K8sObject[] {
  const matched = objects.filter((o) => matchesTarget(o, target));
  if (matched.length === 0)
    throw new Error(`${dir}: no resource matches the patch target ${JSON.stringify(target)}`);
  return objects.map((o) => {
    if (!matched.includes(o)) return o;
    let doc = structuredClone(o) as unknown as Json;
    for (const op of ops) doc = jsonPatchOp(doc, op as JsonObject);
    return doc as unknown as K8sObject;
  });
}

function pointer(path: string): string[] {
  if (path === "") return [];
  if (!path.startsWith("/")) throw new Error(`JSON pointer "${path}" does not start with /`);
  return path
    .slice(1)
    .split("/")
    .map((s) => s.replaceAll("~1", "/").replaceAll("~0", "~"));
}

function getAt(doc: Json, tokens: string[], path: string): Json {
  let cur: Json = doc;
  for (const t of tokens) {
    if (Array.isArray(cur) && /^\d+$/.test(t) && Number(t) < cur.length) cur = cur[Number(t)] as Json;
    else if (cur !== null && typeof cur === "object" && !Array.isArray(cur) && t in cur) cur = cur[t] as Json;
    else throw new Error(`JSON patch: path ${path} does not exist`);
  }
  return cur;
}

/** One RFC 6902 operation: add, remove, replace, move, copy, test. */
function jsonPatchOp(doc: Json, op: JsonObject): Json {
  const path = String(op.path);
  const tokens = pointer(path);
  const parentOf = (p: string, t: string[]) => getAt(doc, t.slice(0, -1), p);
  const last = tokens.at(-1);
  const remove = (p: string, t: string[]): Json => {
    const parent = parentOf(p, t);
    const key = t.at(-1) as string;
    if (Array.isArray(parent)) {
      const i = Number(key);
      if (!/^\d+$/.test(key) || i >= parent.length) throw new Error(`JSON patch: path ${p} does not exist`);
      return parent.splice(i, 1)[0] as Json;
    }
    if (parent === null || typeof parent !== "object" || !(key in parent))
      throw new Error(`JSON patch: path ${p} does not exist`);
    const v = parent[key] as Json;
    delete parent[key];
    return v;
  };
  const add = (p: string, t: string[], value: Json) => {
    if (t.length === 0) {
      doc = value;
      return;
    }
    // Like kustomize (EnsurePathExistsOnAdd), "add" creates missing parents.
    let cur: Json = doc;
    for (const [i, token] of t.slice(0, -1).entries()) {
      if (cur === null || typeof cur !== "object") break;
      const next = t[i + 1] as string;
      if (Array.isArray(cur)) cur = cur[Number(token)] as Json;
      else {
        cur[token] ??= next === "-" || next === "0" ? [] : {};
        cur = cur[token] as Json;
      }
    }
    const parent = parentOf(p, t);
    const key = t.at(-1) as string;
    if (Array.isArray(parent)) {
      const i = key === "-" ? parent.length : Number(key);
      if (!(key === "-" || /^\d+$/.test(key)) || i > parent.length)
        throw new Error(`JSON patch: bad array index in ${p}`);
      parent.splice(i, 0, value);
    } else if (parent !== null && typeof parent === "object") parent[key] = value;
    else throw new Error(`JSON patch: the parent of ${p} is not a container`);
  };
  switch (op.op) {
    case "add":
      add(path, tokens, structuredClone(op.value as Json));
      break;
    case "remove":
      remove(path, tokens);
      break;
    case "replace":
      if (last === undefined) return structuredClone(op.value as Json);
      getAt(doc, tokens, path);
      remove(path, tokens);
      add(path, tokens, structuredClone(op.value as Json));
      break;
    case "move": {
      const from = String(op.from);
      const value = remove(from, pointer(from));
      add(path, tokens, value);
      break;
    }
    case "copy": {
      const from = String(op.from);
      add(path, tokens, structuredClone(getAt(doc, pointer(from), from)));
      break;
    }
    case "test":
      if (JSON.stringify(getAt(doc, tokens, path)) !== JSON.stringify(op.value))
        throw new Error(`JSON patch: test of ${path} failed`);
      break;
    default:
      throw new Error(`JSON patch: unknown op ${String(op.op)}`);
  }
  return doc;
}

function setNamespace(objects: K8sObject[], namespace: string): void {
  // ServiceAccounts of this build, by their namespace before the change: bindings that name them follow them.
  const accounts = objects
    .filter((o) => o.kind === "ServiceAccount")
    .map((o) => ({ name: o.metadata.name, namespace: o.metadata.namespace }));
  for (const o of objects) {
    if (!CLUSTER_SCOPED.has(o.kind)) o.metadata.namespace = namespace;
    if (o.kind === "RoleBinding" || o.kind === "ClusterRoleBinding") {
      for (const s of (o.subjects as { kind: string; name: string; namespace?: string }[] | undefined) ??
        []) {
        if (s.kind !== "ServiceAccount") continue;
        const ours = accounts.some(
          (a) => a.name === s.name && (s.namespace === undefined || a.namespace === s.namespace),
        );
        if (s.name === "default" || ours) s.namespace = namespace;
      }
    }
  }
}

function podTemplateMeta(o: K8sObject): JsonObject | undefined {
  if (!WORKLOADS.has(o.kind)) return undefined;
  const spec = o.spec as JsonObject | undefined;
  const template = spec?.template as JsonObject | undefined;
  if (!template) return undefined;
  template.metadata ??= {};
  return template.metadata as JsonObject;
}

function addLabels(
  objects: K8sObject[],
  pairs: Record<string, string>,
  selectors: boolean,
  templates: boolean,
): void {
  for (const o of objects) {
    o.metadata.labels = { ...o.metadata.labels, ...pairs };
    if (templates) {
      const meta = podTemplateMeta(o);
      if (meta) meta.labels = { ...(meta.labels as JsonObject | undefined), ...pairs };
    }
    if (!selectors) continue;
    const spec = o.spec as JsonObject | undefined;
    if (!spec) continue;
    if (o.kind === "Service" || o.kind === "ReplicationController") {
      if (spec.selector !== undefined) spec.selector = { ...(spec.selector as JsonObject), ...pairs };
    } else if (WORKLOADS.has(o.kind) || o.kind === "PodDisruptionBudget") {
      spec.selector ??= {};
      const selector = spec.selector as JsonObject;
      selector.matchLabels = { ...(selector.matchLabels as JsonObject | undefined), ...pairs };
    }
  }
}

function addAnnotations(objects: K8sObject[], pairs: Record<string, string>): void {
  for (const o of objects) {
    o.metadata.annotations = { ...o.metadata.annotations, ...pairs };
    const meta = podTemplateMeta(o);
    if (meta) meta.annotations = { ...(meta.annotations as JsonObject | undefined), ...pairs };
  }
}

/** Every container (containers, initContainers, ephemeralContainers) anywhere in the objects. */
export function containersOf(objects: K8sObject[]): { name: string; image: string; [k: string]: unknown }[] {
  const found: { name: string; image: string }[] = [];
  const walk = (node: unknown) => {
    if (Array.isArray(node)) for (const n of node) walk(n);
    else if (node !== null && typeof node === "object") {
      for (const [k, v] of Object.entries(node)) {
        if (["containers", "initContainers", "ephemeralContainers"].includes(k) && Array.isArray(v))
          found.push(...(v as { name: string; image: string }[]));
        else walk(v);
      }
    }
  };
  walk(objects);
  return found;
}

/** Splits `name[:tag][@digest]`. */
export function splitImage(image: string): { name: string; tag?: string; digest?: string } {
  const at = image.indexOf("@");
  const digest = at >= 0 ? image.slice(at + 1) : undefined;
  const rest = at >= 0 ? image.slice(0, at) : image;
  const colon = rest.lastIndexOf(":");
  const hasTag = colon > rest.lastIndexOf("/");
  return {
    name: hasTag ? rest.slice(0, colon) : rest,
    ...(hasTag ? { tag: rest.slice(colon + 1) } : {}),
    ...(digest === undefined ? {} : { digest }),
  };
}

function setImage(
  objects: K8sObject[],
  image: { name: string; newName?: string; newTag?: string; digest?: string },
): void {
  for (const c of containersOf(objects)) {
    const old = splitImage(c.image);
    if (old.name !== image.name) continue;
    const name = image.newName ?? old.name;
    let tag = old.tag;
    let digest = old.digest;
    if (image.newTag !== undefined) {
      tag = image.newTag;
      digest = undefined;
    }
    if (image.digest !== undefined) {
      digest = image.digest;
      if (image.newTag === undefined) tag = undefined;
    }
    c.image = `${name}${tag === undefined ? "" : `:${tag}`}${digest === undefined ? "" : `@${digest}`}`;
  }
}
