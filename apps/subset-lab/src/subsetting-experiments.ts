/**
 * The measurements behind docs/subsetting.md (experiments A to F) that the
 * simulator does not print: how much of the imbalance of hash-based subsetting is bad luck (many
 * independent client-id sets), how it shrinks with k, whether httplb's
 * unfinalized FNV ranking differs, what a "bounded load" variant buys (it
 * needs every client's id), and how far load-aware picking inside the
 * subsets (least_request) could bring the load back to balance.
 *
 *   pnpm --filter @rngbalance/subset-lab experiments
 *
 * Deterministic; takes about a minute.
 */
import {
  canonicalEndpoints,
  combine64,
  connectionsPerServer,
  createSubsetter,
  fnv1a64,
  hash64,
  type SubsetterKind,
  spread,
  subsetChurn,
  syntheticPodAddresses,
  top53,
} from "./dns-pool.js";

const C = 300;
const S = 300;
const K = 10;

const SERVERS = syntheticPodAddresses(S, "experiments/servers");
const ids = (set: number, count = C) => Array.from({ length: count }, (_, i) => `rng-client-${set}-${i}/1`);
const f2 = (n: number) => n.toFixed(2);
const f3 = (n: number) => n.toFixed(3);

function stats(values: number[]): string {
  const s = spread(values);
  return `${f2(s.mean)} (${f2(s.min)}–${f2(s.max)})`;
}

/** E[max]/mean for S independent Binomial(C, p) counts (independence is an approximation). */
function binomialMaxOverMean(c: number, s: number, k: number): number {
  const p = k / s;
  const pmf: number[] = [];
  let logP = c * Math.log(1 - p);
  for (let x = 0; x <= c; x++) {
    pmf.push(Math.exp(logP));
    logP += Math.log((c - x) / (x + 1)) + Math.log(p / (1 - p));
  }
  let cdf = 0;
  let expectedMax = 0;
  for (let x = 0; x <= c; x++) {
    cdf += pmf[x]!;
    expectedMax += 1 - Math.min(1, cdf) ** s;
  }
  return expectedMax / (c * p);
}

function maxOverMean(kind: SubsetterKind, clientIds: string[], k = K): number {
  const subsets = clientIds.map((clientId) => createSubsetter(kind, { clientId }).select(SERVERS, k));
  return spread(connectionsPerServer(SERVERS, subsets)).maxOverMean;
}

function section(title: string): void {
  process.stdout.write(`\n#### ${title}\n\n`);
}

// A. Luck: 20 independent sets of client ids.
section(
  `A. Connections max/mean over 20 independent client-id sets (C=${C}, S=${S}, k=${K}): mean (min–max)`,
);
process.stdout.write("| algorithm (id hash) | max/mean |\n| --- | --: |\n");
for (const kind of ["rendezvous", "aperture", "deterministic", "random"] as const) {
  const values = Array.from({ length: 20 }, (_, set) => maxOverMean(kind, ids(set)));
  process.stdout.write(`| ${kind} | ${stats(values)} |\n`);
}
process.stdout.write(`| Binomial(C, k/S) model, E[max]/mean | ${f2(binomialMaxOverMean(C, S, K))} |\n`);

// B. The imbalance shrinks only like 1/sqrt(Ck/S).
section(`B. Rendezvous by id: connections max/mean against k (C=${C}, S=${S}), 10 id sets`);
process.stdout.write("| k | measured max/mean | Binomial model |\n| --: | --: | --: |\n");
for (const k of [5, 10, 20, 50, 100, 200]) {
  const values = Array.from({ length: 10 }, (_, set) => maxOverMean("rendezvous", ids(set), k));
  process.stdout.write(`| ${k} | ${stats(values)} | ${f2(binomialMaxOverMean(C, S, k))} |\n`);
}

// C. httplb's ranking: raw FNV-1a 64 of clientId || endpoint, no finalizer.
const rawFnv = (clientId: string) => (endpoints: readonly string[], k: number) =>
  canonicalEndpoints(endpoints)
    .map((e) => ({ e, w: top53(fnv1a64(clientId + e)) }))
    .sort((a, b) => b.w - a.w || (a.e < b.e ? -1 : 1))
    .slice(0, k)
    .map((x) => x.e);
function rankingExperiment(): void {
  section("C. Rendezvous ranking: raw FNV-1a 64 of id‖endpoint (httplb) vs fmix64-finalized, 20 id sets");
  const raw = Array.from({ length: 20 }, (_, set) => {
    const subsets = ids(set).map((id) => rawFnv(id)(SERVERS, K));
    return spread(connectionsPerServer(SERVERS, subsets)).maxOverMean;
  });
  const ours = Array.from({ length: 20 }, (_, set) => maxOverMean("rendezvous", ids(set)));
  process.stdout.write("| ranking | max/mean |\n| --- | --: |\n");
  process.stdout.write(
    `| raw FNV-1a 64 (httplb) | ${stats(raw)} |\n| fmix64(h(id) xor h(endpoint)) (ours) | ${stats(ours)} |\n`,
  );
  // Sequential ids and sequential IPs are where an unfinalized hash shows bias.
  const seqServers = Array.from({ length: S }, (_, i) => `10.0.${i >> 8}.${i & 0xff}:8081`);
  const seqIds = Array.from({ length: C }, (_, i) => `client-${i}`);
  const rawSeq = spread(
    connectionsPerServer(
      seqServers,
      seqIds.map((id) => rawFnv(id)(seqServers, K)),
    ),
  ).maxOverMean;
  const oursSeq = spread(
    connectionsPerServer(
      seqServers,
      seqIds.map((clientId) => createSubsetter("rendezvous", { clientId }).select(seqServers, K)),
    ),
  ).maxOverMean;
  process.stdout.write(
    `\nSequential ids ("client-0"…) and sequential IPs (10.0.0.0…): raw FNV ${f2(rawSeq)}, ours ${f2(oursSeq)}.\n`,
  );
}

// D. Bounded loads (Mirrokni, Thorup, Zadimoghaddam 2018) applied to subsets.
// It needs the whole assignment, so every client must know every client's id
// and replay the same greedy pass: clients in hash order, each takes its
// rendezvous top k among the servers still below the cap.
function boundedAssignment(
  clientIds: string[],
  servers: string[],
  k: number,
  epsilon: number,
): Map<string, string[]> {
  const list = canonicalEndpoints(servers);
  const kk = Math.min(k, list.length);
  const cap = Math.ceil(((1 + epsilon) * clientIds.length * kk) / list.length);
  const load = new Map(list.map((s) => [s, 0]));
  const hashes = list.map((s) => hash64(s));
  const order = [...clientIds].sort((a, b) => top53(hash64(a)) - top53(hash64(b)) || (a < b ? -1 : 1));
  const result = new Map<string, string[]>();
  for (const id of order) {
    const h = hash64(id);
    const ranked = list
      .map((s, i) => ({ s, w: top53(combine64(h, hashes[i]!)) }))
      .sort((a, b) => b.w - a.w || (a.s < b.s ? -1 : 1));
    const mine: string[] = [];
    for (const { s } of ranked) {
      if (mine.length === kk) break;
      if (load.get(s)! < cap) {
        mine.push(s);
        load.set(s, load.get(s)! + 1);
      }
    }
    result.set(id, mine);
  }
  return result;
}
function boundedLoadExperiment(): void {
  section(`D. Rendezvous with bounded loads, every client knowing every client id (C=${C}, S=${S}, k=${K})`);
  process.stdout.write(
    "| ε (cap = ⌈(1+ε)Ck/S⌉) | conns max/mean | S+1 churn mean | max | S−1 churn mean | max | C+1 churn mean | max |\n| --: | --: | --: | --: | --: | --: | --: | --: |\n",
  );
  const clientIds = ids(0);
  const extra = syntheticPodAddresses(S + 10, "experiments/servers").slice(S);
  for (const epsilon of [0.1, 0.25, 0.5]) {
    const base = boundedAssignment(clientIds, SERVERS, K, epsilon);
    const conns = spread(
      connectionsPerServer(
        SERVERS,
        clientIds.map((id) => base.get(id)!),
      ),
    );
    const churn = (after: Map<string, string[]>) =>
      clientIds.map((id) => subsetChurn(base.get(id)!, after.get(id)!));
    const add: number[] = [];
    const remove: number[] = [];
    for (let t = 0; t < 5; t++) {
      add.push(...churn(boundedAssignment(clientIds, [...SERVERS, extra[t]!], K, epsilon)));
      remove.push(
        ...churn(
          boundedAssignment(
            clientIds,
            SERVERS.filter((_, i) => i !== t * 60),
            K,
            epsilon,
          ),
        ),
      );
    }
    const join = churn(boundedAssignment([...clientIds, "rng-client-new/1"], SERVERS, K, epsilon));
    const a = spread(add);
    const r = spread(remove);
    const j = spread(join);
    process.stdout.write(
      `| ${epsilon} | ${f2(conns.maxOverMean)} | ${f3(a.mean)} | ${a.max} | ${f3(r.mean)} | ${r.max} | ${f3(j.mean)} | ${j.max} |\n`,
    );
  }
}

// E. Load-aware picking inside the subsets: the best split of each client's
// load over its subset (what an ideal least_request would converge to), by
// max-flow and bisection on the per-server capacity.
function bestSplitMaxOverMean(subsets: string[][], servers: string[]): number {
  const index = new Map(servers.map((s, i) => [s, i]));
  const n = 2 + subsets.length + servers.length;
  const source = 0;
  const sink = 1;
  const client = (i: number) => 2 + i;
  const server = (j: number) => 2 + subsets.length + j;
  const feasible = (capacity: number): boolean => {
    // Dinic's algorithm on a fresh graph.
    const head = new Array<number>(n).fill(-1);
    const to: number[] = [];
    const cap: number[] = [];
    const next: number[] = [];
    const edge = (u: number, v: number, c: number) => {
      to.push(v, u);
      cap.push(c, 0);
      next.push(head[u]!, head[v]!);
      head[u] = to.length - 2;
      head[v] = to.length - 1;
    };
    subsets.forEach((subset, i) => {
      edge(source, client(i), 1);
      for (const s of subset) edge(client(i), server(index.get(s)!), 1);
    });
    servers.forEach((_, j) => {
      edge(server(j), sink, capacity);
    });
    let flow = 0;
    const level = new Array<number>(n);
    const it = new Array<number>(n);
    const bfs = () => {
      level.fill(-1);
      level[source] = 0;
      const queue = [source];
      for (let q = 0; q < queue.length; q++) {
        const u = queue[q]!;
        for (let e = head[u]!; e !== -1; e = next[e]!) {
          if (cap[e]! > 1e-12 && level[to[e]!] === -1) {
            level[to[e]!] = level[u]! + 1;
            queue.push(to[e]!);
          }
        }
      }
      return level[sink] !== -1;
    };
    const dfs = (u: number, pushed: number): number => {
      if (u === sink) return pushed;
      for (; it[u] !== -1; it[u] = next[it[u]!]!) {
        const e = it[u]!;
        const v = to[e]!;
        if (cap[e]! > 1e-12 && level[v] === level[u]! + 1) {
          const got = dfs(v, Math.min(pushed, cap[e]!));
          if (got > 0) {
            cap[e] = cap[e]! - got;
            cap[e ^ 1] = cap[e ^ 1]! + got;
            return got;
          }
        }
      }
      return 0;
    };
    while (bfs()) {
      for (let u = 0; u < n; u++) it[u] = head[u]!;
      for (let f = dfs(source, Number.POSITIVE_INFINITY); f > 0; f = dfs(source, Number.POSITIVE_INFINITY)) {
        flow += f;
      }
    }
    return flow >= subsets.length - 1e-6;
  };
  const mean = subsets.length / servers.length;
  let lo = mean;
  let hi = subsets.length;
  for (let i = 0; i < 40; i++) {
    const mid = (lo + hi) / 2;
    if (feasible(mid)) hi = mid;
    else lo = mid;
  }
  return hi / mean;
}
function splitExperiment(): void {
  section(
    `E. Load max/mean: even split vs. best possible split over the same subsets (C=${C}, S=${S}, k=${K})`,
  );
  process.stdout.write(
    "| algorithm (id hash) | conns max/mean = even-split load max/mean | best-split load max/mean |\n",
  );
  process.stdout.write("| --- | --: | --: |\n");
  for (const kind of ["rendezvous", "random"] as const) {
    const even: number[] = [];
    const best: number[] = [];
    for (let set = 0; set < 5; set++) {
      const subsets = ids(set).map((clientId) => createSubsetter(kind, { clientId }).select(SERVERS, K));
      even.push(spread(connectionsPerServer(SERVERS, subsets)).maxOverMean);
      best.push(bestSplitMaxOverMean(subsets, SERVERS));
    }
    process.stdout.write(`| ${kind} (5 id sets) | ${stats(even)} | ${stats(best)} |\n`);
  }
  for (const k of [3, 5]) {
    const subsets = ids(0).map((clientId) => createSubsetter("rendezvous", { clientId }).select(SERVERS, k));
    process.stdout.write(
      `| rendezvous, k=${k} | ${f2(spread(connectionsPerServer(SERVERS, subsets)).maxOverMean)} | ${f2(bestSplitMaxOverMean(subsets, SERVERS))} |\n`,
    );
  }
}

rankingExperiment();
boundedLoadExperiment();
splitExperiment();

// F. A rolling update: every server replaced, one at a time (surge: the new
// pod appears, then the old one goes). Per step the churn bounds hold; this
// is what they add up to.
function rolloutExperiment(): void {
  section(
    `F. Rolling update: all ${S} servers replaced one by one (C=${C}, k=${K}); endpoints changed per client`,
  );
  process.stdout.write(
    "| algorithm | client position | total churn per client: mean | min | max |\n| --- | --- | --: | --: | --: |\n",
  );
  const fresh = syntheticPodAddresses(2 * S, "experiments/servers").slice(S);
  for (const [kind, position] of [
    ["aperture", "index"],
    ["deterministic", "index"],
    ["rendezvous", "id"],
    ["aperture", "id"],
    ["random", "id"],
  ] as const) {
    const clients = Array.from({ length: C }, (_, i) =>
      createSubsetter(
        kind,
        position === "index" ? { clientIndex: i, clientCount: C } : { clientId: `c-${i}` },
      ),
    );
    let current = [...SERVERS];
    let subsets = clients.map((c) => c.select(current, K));
    const total = new Array<number>(C).fill(0);
    const step = (next: string[]) => {
      current = next;
      const after = clients.map((c) => c.select(current, K));
      after.forEach((a, i) => {
        total[i] = total[i]! + subsetChurn(subsets[i]!, a);
      });
      subsets = after;
    };
    for (let s = 0; s < S; s++) {
      step([...current, fresh[s]!]);
      step(current.filter((e) => e !== SERVERS[s]));
    }
    const t = spread(total);
    process.stdout.write(
      `| ${kind} | ${position === "index" ? "index i of C" : "hash of id"} | ${f2(t.mean)} | ${t.min} | ${t.max} |\n`,
    );
  }
  process.stdout.write(
    `\nLower bound: ${K} (every old server leaves every subset). Without subsetting every client opens ${S} new connections.\n`,
  );
}

rolloutExperiment();
