/**
 * Cross-reference checks over rendered manifests: what the API server would
 * accept but the system would get wrong (a selector that matches nothing, a
 * probe on the wrong port, a grace period shorter than the drain, an env var
 * rng-server does not read). Each returns the problems found; none means
 * consistent.
 */
import { execFileSync } from "node:child_process";
import { join } from "node:path";
import { childProcessEnv } from "@rngbalance/testkit";
import type { K8sObject } from "./kustomize.js";

/** What the manifests must agree with in the apps' code (apps/server, apps/client). */
export interface AppContract {
  /** rng-server's default --port / RNG_PORT. */
  readonly serverPort: number;
  /** Every RNG_* variable rng-server reads. */
  readonly serverEnv: ReadonlySet<string>;
  /** Every --flag rng-client accepts. */
  readonly clientFlags: ReadonlySet<string>;
  /** The grpc.health.v1 services rng-server reports on ("" is the whole server). */
  readonly healthServices: readonly string[];
}

/**
 * Reads the contract from the apps themselves: the `--help` of the built
 * rng-server and rng-client (whose tables come from the same flag specs
 * that parse the command line), so a renamed flag or variable shows here.
 */
export function readContract(root: string): AppContract {
  const help = (main: string) =>
    execFileSync(process.execPath, [join(root, main), "--help"], {
      encoding: "utf8",
      env: childProcessEnv(),
    });
  const server = help("apps/server/dist/main.js");
  const client = help("apps/client/dist/main.js");
  const port = /--port <n>.*\bRNG_PORT\b.*default (\d+)/.exec(server)?.[1];
  if (port === undefined) throw new Error("rng-server --help: cannot find the default port");
  return {
    serverPort: Number(port),
    serverEnv: new Set(server.match(/\bRNG_[A-Z0-9_]+\b/g) ?? []),
    clientFlags: new Set((client.match(/--[a-z][a-z-]*/g) ?? []).map((f) => f.slice(2))),
    healthServices: ["", "rng.Rng", "rng.v1.RngService"],
  };
}

type Probe = { grpc?: { port: number; service?: string }; periodSeconds?: number; failureThreshold?: number };
type SecurityContext = {
  runAsNonRoot?: boolean;
  runAsUser?: number;
  allowPrivilegeEscalation?: boolean;
  readOnlyRootFilesystem?: boolean;
  privileged?: boolean;
  capabilities?: { drop?: string[]; add?: string[] };
  seccompProfile?: { type: string };
};
type Container = {
  name: string;
  image: string;
  args?: string[];
  env?: { name: string; value?: string; valueFrom?: { fieldRef?: { fieldPath: string } } }[];
  ports?: { name?: string; containerPort: number }[];
  lifecycle?: { preStop?: { sleep?: { seconds: number }; exec?: { command: string[] } } };
  readinessProbe?: Probe;
  livenessProbe?: Probe;
  startupProbe?: Probe;
  resources?: { requests?: Record<string, string>; limits?: Record<string, string> };
  securityContext?: SecurityContext;
};
type PodSpec = {
  containers: Container[];
  initContainers?: Container[];
  terminationGracePeriodSeconds?: number;
  serviceAccountName?: string;
  automountServiceAccountToken?: boolean;
  enableServiceLinks?: boolean;
  hostNetwork?: boolean;
  hostPID?: boolean;
  hostIPC?: boolean;
  securityContext?: SecurityContext;
  topologySpreadConstraints?: { labelSelector?: { matchLabels?: Record<string, string> } }[];
};
type Deployment = K8sObject & {
  spec: {
    replicas?: number;
    selector: { matchLabels: Record<string, string> };
    template: { metadata: { labels: Record<string, string> }; spec: PodSpec };
  };
};
type Service = K8sObject & {
  spec: {
    type?: string;
    clusterIP?: string;
    publishNotReadyAddresses?: boolean;
    selector: Record<string, string>;
    ports: {
      name?: string;
      port: number;
      targetPort?: number | string;
      appProtocol?: string;
      protocol?: string;
    }[];
  };
};
type Rule = { apiGroups: string[]; resources: string[]; verbs: string[] };

function find<T extends K8sObject>(objects: K8sObject[], kind: string, name: string): T {
  const o = objects.find((x) => x.kind === kind && x.metadata.name === name);
  if (!o) throw new Error(`${kind}/${name} is missing`);
  return o as T;
}

function selects(selector: Record<string, string> | undefined, labels: Record<string, string>): boolean {
  return (
    selector !== undefined &&
    Object.keys(selector).length > 0 &&
    Object.entries(selector).every(([k, v]) => labels[k] === v)
  );
}

function env(c: Container, name: string): string | undefined {
  return c.env?.find((e) => e.name === name)?.value;
}

/** Quantities as numbers: cpu in cores ("100m", "1"), memory in bytes ("64Mi", "1G"). */
export function quantity(q: string): number {
  const m = /^(\d+(?:\.\d+)?)(m|k|M|G|T|Ki|Mi|Gi|Ti)?$/.exec(q);
  if (!m) throw new Error(`cannot read quantity "${q}"`);
  const factor: Record<string, number> = {
    "": 1,
    m: 1e-3,
    k: 1e3,
    M: 1e6,
    G: 1e9,
    T: 1e12,
    Ki: 2 ** 10,
    Mi: 2 ** 20,
    Gi: 2 ** 30,
    Ti: 2 ** 40,
  };
  return Number(m[1]) * (factor[m[2] ?? ""] as number);
}

/** The env var names Kubernetes injects for a Service when service links are on (docker-link style). */
export function serviceLinkVars(svc: Service): string[] {
  if (svc.spec.clusterIP === "None") return [];
  const p = svc.metadata.name.toUpperCase().replaceAll("-", "_");
  const vars = [`${p}_SERVICE_HOST`, `${p}_SERVICE_PORT`, `${p}_PORT`];
  for (const port of svc.spec.ports) {
    const proto = (port.protocol ?? "TCP").toUpperCase();
    const base = `${p}_PORT_${port.port}_${proto}`;
    vars.push(base, `${base}_PROTO`, `${base}_PORT`, `${base}_ADDR`);
    if (port.name) vars.push(`${p}_SERVICE_PORT_${port.name.toUpperCase().replaceAll("-", "_")}`);
  }
  return vars;
}

/**
 * The Pod Security Standard "restricted" (plus a read-only root filesystem),
 * for every pod template: what a namespace labelled
 * `pod-security.kubernetes.io/enforce: restricted` admits.
 */
export function podSecurityProblems(objects: K8sObject[]): string[] {
  const problems: string[] = [];
  for (const o of objects.filter((x) => x.kind === "Deployment") as Deployment[]) {
    const pod = o.spec.template.spec;
    const where = `Deployment ${o.metadata.name}`;
    if (pod.hostNetwork || pod.hostPID || pod.hostIPC) problems.push(`${where}: uses host namespaces`);
    for (const c of [...pod.containers, ...(pod.initContainers ?? [])]) {
      const sc = c.securityContext ?? {};
      const at = `${where} container ${c.name}`;
      if ((sc.runAsNonRoot ?? pod.securityContext?.runAsNonRoot) !== true)
        problems.push(`${at}: runAsNonRoot is not true`);
      if ((sc.runAsUser ?? pod.securityContext?.runAsUser) === 0) problems.push(`${at}: runs as uid 0`);
      const seccomp = (sc.seccompProfile ?? pod.securityContext?.seccompProfile)?.type;
      if (seccomp !== "RuntimeDefault" && seccomp !== "Localhost")
        problems.push(`${at}: seccompProfile is not RuntimeDefault`);
      if (sc.allowPrivilegeEscalation !== false)
        problems.push(`${at}: allowPrivilegeEscalation is not false`);
      if (sc.privileged) problems.push(`${at}: is privileged`);
      if (!sc.capabilities?.drop?.includes("ALL")) problems.push(`${at}: does not drop ALL capabilities`);
      if ((sc.capabilities?.add ?? []).some((cap) => cap !== "NET_BIND_SERVICE"))
        problems.push(`${at}: adds capabilities`);
      if (sc.readOnlyRootFilesystem !== true) problems.push(`${at}: root filesystem is writable`);
    }
  }
  return problems;
}

/** Every container has cpu and memory requests and limits, and no request above its limit. */
export function resourceProblems(objects: K8sObject[]): string[] {
  const problems: string[] = [];
  for (const o of objects.filter((x) => x.kind === "Deployment") as Deployment[]) {
    for (const c of o.spec.template.spec.containers) {
      const at = `Deployment ${o.metadata.name} container ${c.name}`;
      for (const r of ["cpu", "memory"]) {
        const request = c.resources?.requests?.[r];
        const limit = c.resources?.limits?.[r];
        if (request === undefined || limit === undefined) problems.push(`${at}: no ${r} request and limit`);
        else if (quantity(String(request)) > quantity(String(limit)))
          problems.push(`${at}: ${r} request ${request} is above its limit ${limit}`);
      }
    }
  }
  return problems;
}

/** Every inconsistency between the server Deployment, its Services, PDB, client, RBAC and the apps. */
export function crossCheck(objects: K8sObject[], app: AppContract): string[] {
  const problems: string[] = [];
  const rng = find<Deployment>(objects, "Deployment", "rng");
  const podLabels = rng.spec.template.metadata.labels;
  const pod = rng.spec.template.spec;
  if (!selects(rng.spec.selector.matchLabels, podLabels))
    problems.push("Deployment rng: selector does not match its pod labels");
  const server = pod.containers[0] as Container;
  const grpcPort = server.ports?.find((p) => p.name === "grpc");
  if (grpcPort?.containerPort !== app.serverPort)
    problems.push(`server container port grpc is not rng-server's port ${app.serverPort}`);

  // Env: only variables rng-server reads, and RNG_PORT (if set) is the container port.
  for (const e of server.env ?? []) {
    if (e.name.startsWith("RNG_") && !app.serverEnv.has(e.name))
      problems.push(`server env ${e.name} is not read by rng-server`);
  }
  const portEnv = env(server, "RNG_PORT");
  if (portEnv !== undefined && Number(portEnv) !== grpcPort?.containerPort)
    problems.push("RNG_PORT differs from the container port");
  // Service links: Kubernetes would inject e.g. RNG_PORT=tcp://10.0.0.1:8081 for a Service named "rng".
  if (pod.enableServiceLinks !== false) {
    for (const svc of objects.filter((o) => o.kind === "Service") as Service[]) {
      for (const v of serviceLinkVars(svc)) {
        if (app.serverEnv.has(v) && env(server, v) === undefined)
          problems.push(
            `Service ${svc.metadata.name} injects ${v}, which rng-server reads (set enableServiceLinks: false)`,
          );
      }
    }
  }

  // Probes: native gRPC probes on the serving port, on a service rng-server reports.
  for (const probe of ["readinessProbe", "livenessProbe", "startupProbe"] as const) {
    const grpc = server[probe]?.grpc;
    if (grpc?.port !== grpcPort?.containerPort)
      problems.push(`${probe} is not a gRPC probe on port ${grpcPort?.containerPort}`);
    if (grpc && !app.healthServices.includes(grpc.service ?? ""))
      problems.push(`${probe} checks health service "${grpc.service}", which rng-server does not report`);
  }

  // Grace period: preStop sleep + shutdown delay + drain timeout must fit in it.
  const grace = pod.terminationGracePeriodSeconds ?? 30;
  const preStopHook = server.lifecycle?.preStop;
  const execSleep = preStopHook?.exec?.command.join(" ").match(/\bsleep\s+(\d+)/)?.[1];
  const preStop = preStopHook?.sleep?.seconds ?? (execSleep === undefined ? 0 : Number(execSleep));
  const delay = Number(env(server, "RNG_SHUTDOWN_DELAY_MS") ?? 0) / 1000;
  const drain = Number(env(server, "RNG_DRAIN_TIMEOUT_MS") ?? 10_000) / 1000;
  if (!(grace > preStop + delay + drain)) {
    problems.push(
      `terminationGracePeriodSeconds ${grace} <= preStop ${preStop} + shutdown delay ${delay} + drain ${drain}`,
    );
  }
  if (preStop === 0)
    problems.push("server has no preStop sleep: endpoints would still list a pod that stopped serving");

  // Services: select the rng pods, reach the gRPC port.
  for (const name of ["rng-cluster", "rng-headless"]) {
    const svc = find<Service>(objects, "Service", name);
    if (!selects(svc.spec.selector, podLabels)) problems.push(`Service ${name}: selector matches no rng pod`);
    for (const p of svc.spec.ports) {
      const target = p.targetPort ?? p.port;
      const ok = typeof target === "number" ? target === grpcPort?.containerPort : target === grpcPort?.name;
      if (!ok) problems.push(`Service ${name}: targetPort ${target} is not the server's port`);
      if (p.port !== app.serverPort)
        problems.push(`Service ${name}: port ${p.port} is not ${app.serverPort}`);
      if (p.appProtocol !== "kubernetes.io/h2c")
        problems.push(`Service ${name}: appProtocol is not kubernetes.io/h2c`);
    }
  }
  const cluster = find<Service>(objects, "Service", "rng-cluster");
  if ((cluster.spec.type ?? "ClusterIP") !== "ClusterIP" || cluster.spec.clusterIP === "None")
    problems.push("Service rng-cluster is not a ClusterIP Service");
  const headless = find<Service>(objects, "Service", "rng-headless");
  if (headless.spec.clusterIP !== "None")
    problems.push("Service rng-headless is not headless (clusterIP: None)");
  if (headless.spec.publishNotReadyAddresses !== false)
    problems.push("Service rng-headless does not set publishNotReadyAddresses: false");

  // PodDisruptionBudget: selects the pods, and lets at least one be evicted (else node drains hang).
  const pdb = find<
    K8sObject & { spec: { minAvailable?: number; selector: { matchLabels: Record<string, string> } } }
  >(objects, "PodDisruptionBudget", "rng");
  if (!selects(pdb.spec.selector.matchLabels, podLabels))
    problems.push("PodDisruptionBudget rng: selector matches no rng pod");
  const replicas = rng.spec.replicas ?? 1;
  if (typeof pdb.spec.minAvailable === "number" && pdb.spec.minAvailable >= replicas)
    problems.push(
      `PodDisruptionBudget rng: minAvailable ${pdb.spec.minAvailable} >= replicas ${replicas}: no pod may be evicted`,
    );
  for (const t of pod.topologySpreadConstraints ?? []) {
    if (!selects(t.labelSelector?.matchLabels, podLabels))
      problems.push("Deployment rng: a topologySpreadConstraint selects no rng pod");
  }

  // The client dials the headless Service on the server's port (dns:///), or watches it (kubernetes:///).
  const clientDeployment = find<Deployment>(objects, "Deployment", "rng-client");
  const clientPod = clientDeployment.spec.template.spec;
  const client = clientPod.containers[0] as Container;
  const args = client.args ?? [];
  for (const a of args) {
    const flag = /^--?([a-z][a-z-]*)/.exec(a)?.[1];
    if (flag && !app.clientFlags.has(flag)) problems.push(`rng-client has no flag --${flag}`);
  }
  const targetAt = args.indexOf("--target");
  const target = targetAt >= 0 ? (args[targetAt + 1] ?? "") : "";
  const podNamespaceVar = client.env?.find(
    (e) => e.valueFrom?.fieldRef?.fieldPath === "metadata.namespace",
  )?.name;
  const dns = /^dns:\/\/\/([a-z0-9-]+)\.([^.]+)\.svc\.cluster\.local\.?:(\d+)$/.exec(target);
  const kube = /^kubernetes:\/\/\/([a-z0-9-]+)(?:\.[a-z0-9-]+)?:([a-z0-9-]+)$/.exec(target);
  if (dns) {
    const [, service, namespace, port] = dns;
    if (service !== headless.metadata.name || Number(port) !== app.serverPort)
      problems.push(
        `rng-client target "${target}" is not dns:///rng-headless.<namespace>.svc.cluster.local:${app.serverPort}`,
      );
    const variable = /^\$\((\w+)\)$/.exec(namespace as string)?.[1];
    if (variable !== undefined && variable !== podNamespaceVar)
      problems.push(
        `rng-client target uses $(${variable}), which is not its pod's namespace from the downward API`,
      );
    if (
      variable === undefined &&
      headless.metadata.namespace !== undefined &&
      namespace !== headless.metadata.namespace
    )
      problems.push(
        `rng-client target namespace ${namespace} is not the Service's ${headless.metadata.namespace}`,
      );
  } else if (kube) {
    const [, service, port] = kube;
    const portOk = /^\d+$/.test(port as string)
      ? Number(port) === app.serverPort
      : headless.spec.ports.some((p) => p.name === port);
    if (service !== headless.metadata.name || !portOk)
      problems.push(`rng-client target "${target}" is not kubernetes:///rng-headless:<port or port name>`);
  } else {
    problems.push(
      `rng-client target "${target}" is not dns:///rng-headless.<namespace>.svc.cluster.local:${app.serverPort}`,
    );
  }

  // RBAC: the client's service account exists and may list and watch EndpointSlices.
  const sa = clientPod.serviceAccountName;
  if (!objects.some((o) => o.kind === "ServiceAccount" && o.metadata.name === sa))
    problems.push(`rng-client's service account ${sa} is not defined`);
  if (clientPod.automountServiceAccountToken === false && kube)
    problems.push("rng-client watches EndpointSlices but does not mount its service account token");
  const bindings = objects.filter(
    (o) =>
      o.kind === "RoleBinding" &&
      ((o.subjects as { kind: string; name: string; namespace?: string }[] | undefined) ?? []).some(
        (s) =>
          s.kind === "ServiceAccount" &&
          s.name === sa &&
          (s.namespace ?? o.metadata.namespace) === clientDeployment.metadata.namespace,
      ),
  ) as (K8sObject & { roleRef: { kind: string; name: string } })[];
  const allowed = bindings.some((b) => {
    const role = objects.find((o) => o.kind === b.roleRef.kind && o.metadata.name === b.roleRef.name);
    return ((role?.rules as Rule[] | undefined) ?? []).some(
      (r) =>
        r.apiGroups.includes("discovery.k8s.io") &&
        r.resources.includes("endpointslices") &&
        ["list", "watch"].every((v) => r.verbs.includes(v)),
    );
  });
  if (!allowed) problems.push(`service account ${sa} may not list and watch endpointslices`);
  return problems;
}
