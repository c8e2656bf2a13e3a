/**
 * Schema validation of rendered objects, as strict as `kubectl apply` against
 * a real API server (strict field validation, the default since 1.27):
 *
 * - types, required fields and formats: the OpenAPI schemas compiled into
 *   kubernetes-models (`new Model(o).validate()`);
 * - unknown fields (a typo such as `readinessprobe` or `publishNotReadyAdresses`,
 *   which kubernetes-models accepts silently): every key is looked up in the
 *   attribute maps that @kubernetes/client-node generates from the same
 *   OpenAPI document (Kubernetes 1.34).
 */
import * as k8s from "@kubernetes/client-node";
import type { K8sObject } from "./kustomize.js";

type Model = new (data: unknown) => { validate(): void };
type Attribute = { baseName: string; type: string };
type Generated = { attributeTypeMap?: Attribute[] };

const models = k8s as unknown as Record<string, Generated | undefined>;

/** The client-node model name of a kind: `apps/v1` Deployment -> V1Deployment. */
function modelName(apiVersion: string, kind: string): string {
  const version = apiVersion.slice(apiVersion.indexOf("/") + 1);
  return `${version.charAt(0).toUpperCase()}${version.slice(1)}${kind}`;
}

/** Keys of `value` that the type `type` (a client-node type expression) does not have, as paths. */
function unknownFields(value: unknown, type: string, path: string, out: string[]): void {
  if (value === null || value === undefined) return;
  const array = /^Array<(.+)>$/.exec(type);
  if (array) {
    if (Array.isArray(value))
      for (const [i, v] of value.entries()) unknownFields(v, array[1] as string, `${path}[${i}]`, out);
    return;
  }
  const map = /^\{ \[key: string\]: (.+); \}$/.exec(type);
  if (map) {
    if (typeof value === "object")
      for (const [k, v] of Object.entries(value)) unknownFields(v, map[1] as string, `${path}.${k}`, out);
    return;
  }
  const attributes = models[type]?.attributeTypeMap;
  // Scalars (string, number, boolean, Date, IntOrString, any): nothing inside to check.
  if (!attributes || typeof value !== "object" || Array.isArray(value)) return;
  for (const [k, v] of Object.entries(value)) {
    const a = attributes.find((x) => x.baseName === k);
    if (!a) out.push(`${path ? `${path}.` : ""}${k}`);
    else unknownFields(v, a.type, `${path ? `${path}.` : ""}${k}`, out);
  }
}

/** What is wrong with one object by the Kubernetes OpenAPI schema: nothing when it is valid. */
export async function schemaProblems(o: K8sObject): Promise<string[]> {
  const what = `${o.kind}/${o.metadata?.name}`;
  const problems: string[] = [];
  let module: Record<string, Model | undefined>;
  try {
    module = (await import(`kubernetes-models/${o.apiVersion}`)) as Record<string, Model | undefined>;
  } catch {
    return [`${what}: no schema for apiVersion ${o.apiVersion}`];
  }
  const Model = module[o.kind];
  if (!Model) return [`${what}: no schema for ${o.apiVersion} ${o.kind}`];
  try {
    new Model(o).validate();
  } catch (err) {
    problems.push(`${what}: ${(err as Error).message}`);
  }
  const name = modelName(o.apiVersion, o.kind);
  if (!models[name]?.attributeTypeMap) problems.push(`${what}: no field list for ${name}`);
  const unknown: string[] = [];
  unknownFields(o, name, "", unknown);
  for (const path of unknown) problems.push(`${what}: unknown field ${path}`);
  return problems;
}
