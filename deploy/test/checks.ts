/**
 * Cross-reference checks over rendered manifests: what kubectl would accept
 * but the system would get wrong (a selector that matches nothing, a probe
 * on the wrong port, a grace period shorter than the drain). Each returns
 * the problems found; none means consistent.
 */
import type { K8sObject } from "./kustomize.js";

type Container = {
  name: string;
  args?: string[];
  env?: { name: string; value?: string }[];
  ports?: { name?: string; containerPort: number }[];
  lifecycle?: { preStop?: { sleep?: { seconds: number } } };
  readinessProbe?: { grpc?: { port: number } };
  livenessProbe?: { grpc?: { port: number } };
  startupProbe?: { grpc?: { port: number } };
};
type PodSpec = {
  containers: Container[];
  terminationGracePeriodSeconds?: number;
  serviceAccountName?: string;
};
type Deployment = K8sObject & {
  spec: {
    selector: { matchLabels: Record<string, string> };
    template: { metadata: { labels: Record<string, string> }; spec: PodSpec };
  };
};
type Service = K8sObject & {
  spec: {
    clusterIP?: string;
    publishNotReadyAddresses?: boolean;
    selector: Record<string, string>;
    ports: { name?: string; port: number; targetPort?: number | string }[];
  };
};

/** The port rng-server listens on by default, and the one the manifests must use. */
export const SERVER_PORT = 8081;

function find<T extends K8sObject>(objects: K8sObject[], kind: string, name: string): T {
  const o = objects.find((x) => x.kind === kind && x.metadata.name === name);
  if (!o) throw new Error(`${kind}/${name} is missing`);
  return o as T;
}

function selects(selector: Record<string, string>, labels: Record<string, string>): boolean {
  return Object.entries(selector).every(([k, v]) => labels[k] === v);
}

function envNumber(c: Container, name: string): number | undefined {
  const v = c.env?.find((e) => e.name === name)?.value;
  return v === undefined ? undefined : Number(v);
}

/** Every inconsistency between the server Deployment, its Services, PDB, client and RBAC. */
export function crossCheck(objects: K8sObject[]): string[] {
  const problems: string[] = [];
  const rng = find<Deployment>(objects, "Deployment", "rng");
  const podLabels = rng.spec.template.metadata.labels;
  if (!selects(rng.spec.selector.matchLabels, podLabels))
    problems.push("Deployment rng: selector does not match its pod labels");
  const server = rng.spec.template.spec.containers[0] as Container;
  const grpcPort = server.ports?.find((p) => p.name === "grpc");
  if (grpcPort?.containerPort !== SERVER_PORT)
    problems.push(`server container port grpc is not ${SERVER_PORT}`);
  const portEnv = envNumber(server, "RNG_PORT");
  if (portEnv !== undefined && portEnv !== grpcPort?.containerPort)
    problems.push("RNG_PORT differs from the container port");
  for (const probe of ["readinessProbe", "livenessProbe", "startupProbe"] as const) {
    const port = server[probe]?.grpc?.port;
    if (port !== grpcPort?.containerPort)
      problems.push(`${probe} is not a gRPC probe on port ${grpcPort?.containerPort}`);
  }
  // Grace period: preStop sleep + shutdown delay + drain timeout must fit.
  const grace = rng.spec.template.spec.terminationGracePeriodSeconds ?? 30;
  const preStop = server.lifecycle?.preStop?.sleep?.seconds ?? 0;
  const delay = (envNumber(server, "RNG_SHUTDOWN_DELAY_MS") ?? 0) / 1000;
  const drain = (envNumber(server, "RNG_DRAIN_TIMEOUT_MS") ?? 10_000) / 1000;
  if (grace <= preStop + delay + drain) {
    problems.push(
      `terminationGracePeriodSeconds ${grace} <= preStop ${preStop} + shutdown delay ${delay} + drain ${drain}`,
    );
  }
  for (const name of ["rng-cluster", "rng-headless"]) {
    const svc = find<Service>(objects, "Service", name);
    if (!selects(svc.spec.selector, podLabels)) problems.push(`Service ${name}: selector matches no rng pod`);
    for (const p of svc.spec.ports) {
      const target = p.targetPort ?? p.port;
      const ok = typeof target === "number" ? target === grpcPort?.containerPort : target === grpcPort?.name;
      if (!ok) problems.push(`Service ${name}: targetPort ${target} is not the server's port`);
      if (p.port !== SERVER_PORT) problems.push(`Service ${name}: port ${p.port} is not ${SERVER_PORT}`);
    }
  }
  const headless = find<Service>(objects, "Service", "rng-headless");
  if (headless.spec.clusterIP !== "None")
    problems.push("Service rng-headless is not headless (clusterIP: None)");
  if (headless.spec.publishNotReadyAddresses !== false)
    problems.push("Service rng-headless publishes not-ready pods");
  const pdb = find<K8sObject & { spec: { selector: { matchLabels: Record<string, string> } } }>(
    objects,
    "PodDisruptionBudget",
    "rng",
  );
  if (!selects(pdb.spec.selector.matchLabels, podLabels))
    problems.push("PodDisruptionBudget rng: selector matches no rng pod");
  // The client must dial the headless Service on the server's port.
  const client = find<Deployment>(objects, "Deployment", "rng-client");
  const args = client.spec.template.spec.containers[0]?.args ?? [];
  const target = args[args.indexOf("--target") + 1] ?? "";
  const m = /^dns:\/\/\/([^.:]+)[^:]*:(\d+)$/.exec(target);
  if (m?.[1] !== "rng-headless" || Number(m[2]) !== SERVER_PORT) {
    problems.push(`rng-client target "${target}" is not dns:///rng-headless...:${SERVER_PORT}`);
  }
  // RBAC: the client's service account may list and watch EndpointSlices.
  const sa = client.spec.template.spec.serviceAccountName;
  const binding = objects.find(
    (o) => o.kind === "RoleBinding" && (o.subjects as { name: string }[]).some((s) => s.name === sa),
  ) as (K8sObject & { roleRef: { name: string } }) | undefined;
  const role = binding && objects.find((o) => o.kind === "Role" && o.metadata.name === binding.roleRef.name);
  const rules = (role?.rules as { apiGroups: string[]; resources: string[]; verbs: string[] }[]) ?? [];
  const allowed = rules.some(
    (r) =>
      r.apiGroups.includes("discovery.k8s.io") &&
      r.resources.includes("endpointslices") &&
      ["list", "watch"].every((v) => r.verbs.includes(v)),
  );
  if (!allowed) problems.push(`service account ${sa} may not list and watch endpointslices`);
  return problems;
}
