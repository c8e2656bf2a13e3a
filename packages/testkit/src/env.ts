/**
 * The environment for a node child process started from this one: `extra`
 * added, and NODE_TEST_CONTEXT removed. node:test sets that variable, and
 * a node child that inherits it talks the test runner's protocol on stdout,
 * so its own output disappears.
 */
export function childProcessEnv(extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  const { NODE_TEST_CONTEXT: _, ...env } = process.env;
  return { ...env, ...extra };
}
