/**
 * Subsetting: each client connects to a small subset of the servers instead
 * of all of them, so C clients and S servers need about C*k connections, not
 * C*S. Pure algorithms; see docs/subsetting.md for the trade-offs and the
 * measurements.
 *
 * @module
 */
import { apertureSubsetter } from "./aperture.js";
import { deterministicSubsetter } from "./deterministic.js";
import { randomSubsetter } from "./random.js";
import { rendezvousSubsetter } from "./rendezvous.js";
import { clientPosition, type Subsetter, type SubsetterOptions } from "./subsetter.js";

export { apertureSubsetter } from "./aperture.js";
export { defaultClientId, rankAmongPeers, statefulSetOrdinal } from "./client-id.js";
export { deterministicSubsetter } from "./deterministic.js";
export { randomSubsetter } from "./random.js";
export { rendezvousSubsetter } from "./rendezvous.js";
export {
  type ClientPosition,
  canonicalEndpoints,
  type Subsetter,
  type SubsetterOptions,
} from "./subsetter.js";

/** The subsetting algorithms. */
export type SubsetterKind = "rendezvous" | "deterministic" | "aperture" | "random";

/** Every {@link SubsetterKind}, in the order the docs and the simulator list them. */
export const SUBSETTER_KINDS: readonly SubsetterKind[] = [
  "aperture",
  "deterministic",
  "rendezvous",
  "random",
];

/**
 * The default choice, "auto": aperture when the client knows its position
 * (`clientIndex` and `clientCount`), because it then balances exactly and
 * still changes at most one endpoint per client when a server comes or goes;
 * rendezvous hashing otherwise, because without a position nothing balances
 * better than Binomial(C, k/S) and rendezvous has the least churn.
 *
 * @throws RangeError for inconsistent `clientIndex`/`clientCount`.
 */
export function autoSubsetterKind(options: SubsetterOptions): SubsetterKind {
  return clientPosition(options, true) ? "aperture" : "rendezvous";
}

/**
 * Creates a subsetter of the given kind ("auto", the default, picks with
 * {@link autoSubsetterKind}).
 *
 * @throws RangeError for an unknown kind or inconsistent options.
 */
export function createSubsetter(
  kind: SubsetterKind | "auto" = "auto",
  options: SubsetterOptions = {},
): Subsetter {
  const chosen = kind === "auto" ? autoSubsetterKind(options) : kind;
  switch (chosen) {
    case "rendezvous":
      return rendezvousSubsetter(options);
    case "deterministic":
      return deterministicSubsetter(options);
    case "aperture":
      return apertureSubsetter(options);
    case "random":
      return randomSubsetter(options);
    default:
      throw new RangeError(
        `unknown subsetter kind ${JSON.stringify(kind)}: expected "auto", ${SUBSETTER_KINDS.map((k) => `"${k}"`).join(", ")}`,
      );
  }
}
