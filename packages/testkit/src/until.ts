/** Polls `condition` every `everyMs` (default 5); returns how long it took, or throws naming `what`. */
export async function until(
  condition: () => boolean,
  timeoutMs: number,
  what: string,
  everyMs = 5,
): Promise<number> {
  const started = Date.now();
  while (!condition()) {
    if (Date.now() - started > timeoutMs) throw new Error(`${what}: not within ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, everyMs));
  }
  return Date.now() - started;
}
