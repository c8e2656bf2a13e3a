import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import type { Attributes } from "@opentelemetry/api";

/** One module format of @opentelemetry/sdk-metrics, and the attribute hash that format holds. */
export interface SdkAttributeHash {
  /**
   * `"esm"`: `dist/utils.mjs`, what `import "@opentelemetry/sdk-metrics"`
   * loads (every package of this workspace); `"cjs"`: `dist/utils.cjs`,
   * what `require` loads. The two are separate copies of the code, so
   * each must be patched.
   */
  readonly format: "esm" | "cjs";
  /** The file the function comes from. */
  readonly path: string;
  /** What the SDK's attribute maps hash a record's attributes with. */
  readonly hashAttributes: (attributes: Attributes) => string;
}

/**
 * The SDK's `hashAttributes` in each module format it ships (3.x bundles
 * `dist/utils.mjs` and `dist/utils.cjs`), which this workspace patches
 * (patches/, see the dns-pool README's Telemetry section). For the test
 * that checks the patch is applied: the one place that knows where the SDK
 * keeps it. The ESM copy is the very module instance the SDK's own
 * `import` graph uses (same resolved URL).
 *
 * @throws Error when a module has no `hashAttributes` (an SDK that moved
 *   it: the patch needs redoing).
 */
export async function sdkAttributeHashes(): Promise<SdkAttributeHash[]> {
  const esmEntry = fileURLToPath(import.meta.resolve("@opentelemetry/sdk-metrics"));
  const esmPath = join(dirname(esmEntry), "utils.mjs");
  const esm = (await import(pathToFileURL(esmPath).href)) as Partial<
    Pick<SdkAttributeHash, "hashAttributes">
  >;
  const require = createRequire(import.meta.url);
  const cjsPath = join(dirname(require.resolve("@opentelemetry/sdk-metrics")), "utils.cjs");
  const cjs = require(cjsPath) as Partial<Pick<SdkAttributeHash, "hashAttributes">>;
  const found: SdkAttributeHash[] = [];
  for (const [format, path, module] of [
    ["esm", esmPath, esm],
    ["cjs", cjsPath, cjs],
  ] as const) {
    const hashAttributes = module.hashAttributes;
    if (typeof hashAttributes !== "function") throw new Error(`${path} has no hashAttributes`);
    found.push({ format, path, hashAttributes });
  }
  return found;
}
