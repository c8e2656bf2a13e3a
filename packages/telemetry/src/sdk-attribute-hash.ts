import { createRequire } from "node:module";
import type { Attributes } from "@opentelemetry/api";

/** The module of @opentelemetry/sdk-metrics that holds its attribute hash. */
export interface SdkAttributeHash {
  /** What the SDK's attribute maps hash a record's attributes with (read when a map is made). */
  hashAttributes(attributes: Attributes): string;
}

/**
 * The SDK's `utils` module (`build/src/utils.js`, as 2.12.0 has it), whose
 * `hashAttributes` this workspace patches (patches/, see the dns-pool
 * README's Telemetry section). For the test that checks the patch is
 * applied, and for the bench that puts the stock function back to measure
 * an unpatched SDK: the one place that knows where the SDK keeps it.
 *
 * @throws Error when the module has no `hashAttributes` (an SDK that moved
 *   it: the patch needs redoing).
 */
export function sdkAttributeHash(): SdkAttributeHash {
  const require = createRequire(import.meta.url);
  const path = require.resolve("@opentelemetry/sdk-metrics").replace(/index\.js$/, "utils.js");
  const utils = require(path) as Partial<SdkAttributeHash>;
  if (typeof utils.hashAttributes !== "function") throw new Error(`${path} has no hashAttributes`);
  return utils as SdkAttributeHash;
}
