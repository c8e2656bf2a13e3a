import { describeValue, invalidArgument } from "../core/errors.js";

/** pick_first's settings (the `pickFirst` pool option). */
export interface PickFirstOptions {
  /**
   * gRFC A62: shuffle the address list on every resolution before
   * connecting, so that clients given the same DNS answer spread over the
   * addresses instead of all connecting to the first. Default false (the
   * resolver's order, as gRPC's default).
   */
  readonly shuffleAddressList?: boolean;
  /**
   * gRFC A61 (Happy Eyeballs, RFC 8305): while one connection attempt has
   * not finished after this many ms, start the next address's attempt too;
   * the first to connect wins and the others are cancelled. A failed attempt
   * starts the next one at once. 0: one attempt at a time, the next only
   * after a failure (a blackholed address then costs a whole
   * `connectTimeoutMs`). Default 250 (A61's fixed value), from 0 to 60000.
   */
  readonly connectionAttemptDelayMs?: number;
}

/** {@link PickFirstOptions} with the defaults filled in. */
export interface ResolvedPickFirst {
  /** See {@link PickFirstOptions.shuffleAddressList}. */
  readonly shuffleAddressList: boolean;
  /** See {@link PickFirstOptions.connectionAttemptDelayMs}. */
  readonly connectionAttemptDelayMs: number;
}

/** pick_first's defaults: resolver order, A61's 250 ms stagger. */
export const PICK_FIRST_DEFAULTS: ResolvedPickFirst = {
  shuffleAddressList: false,
  connectionAttemptDelayMs: 250,
};

/**
 * Fills in pick_first's defaults and checks them.
 * @throws ConnectError with Code.InvalidArgument naming the field and what it takes.
 */
export function resolvePickFirst(o: PickFirstOptions | undefined): ResolvedPickFirst {
  if (o === undefined) return PICK_FIRST_DEFAULTS;
  if (typeof o !== "object" || o === null) {
    throw invalidArgument(
      `options.pickFirst must be an object { shuffleAddressList?, connectionAttemptDelayMs? }, got ${describeValue(o)}`,
    );
  }
  const shuffle = o.shuffleAddressList ?? PICK_FIRST_DEFAULTS.shuffleAddressList;
  if (typeof shuffle !== "boolean") {
    throw invalidArgument(
      `options.pickFirst.shuffleAddressList must be a boolean, got ${describeValue(shuffle)}`,
    );
  }
  const delay = o.connectionAttemptDelayMs ?? PICK_FIRST_DEFAULTS.connectionAttemptDelayMs;
  if (typeof delay !== "number" || !Number.isFinite(delay) || delay < 0 || delay > 60_000) {
    throw invalidArgument(
      `options.pickFirst.connectionAttemptDelayMs must be a number of ms from 0 (no stagger) to 60000, got ${describeValue(delay)}`,
    );
  }
  return { shuffleAddressList: shuffle, connectionAttemptDelayMs: delay };
}

/** True for an IPv6 address as the pool writes it ("[fd00::1]:8081"). */
export function isIpv6(address: string): boolean {
  return address.startsWith("[");
}

/**
 * RFC 8305 section 4 (gRFC A61): the first address's family first, then
 * alternating families, each family keeping its own order; when one family
 * runs out the rest of the other follows. Unix sockets count as IPv4's
 * family (they never mix with IP addresses in one target).
 */
export function interleaveFamilies<E extends { readonly address: string }>(list: readonly E[]): E[] {
  const first = list[0];
  if (first === undefined) return [];
  const firstIs6 = isIpv6(first.address);
  const same = list.filter((e) => isIpv6(e.address) === firstIs6);
  const other = list.filter((e) => isIpv6(e.address) !== firstIs6);
  const out: E[] = [];
  for (let i = 0; i < Math.max(same.length, other.length); i++) {
    if (i < same.length) out.push(same[i] as E);
    if (i < other.length) out.push(other[i] as E);
  }
  return out;
}

/** Fisher-Yates over a copy, with `random` uniform in [0, 1). */
export function shuffled<E>(list: readonly E[], random: () => number): E[] {
  const out = [...list];
  for (let i = out.length - 1; i > 0; i--) {
    const j = Math.floor(random() * (i + 1));
    [out[i], out[j]] = [out[j] as E, out[i] as E];
  }
  return out;
}
