/**
 * The workspace patches @opentelemetry/sdk-metrics 2.12.0's `hashAttributes`
 * (patches/@opentelemetry__sdk-metrics@2.12.0.patch): the SDK calls it on
 * every record, and its stock form was most of what gRPC's metrics cost a
 * call. An application that installs the SDK from the registry runs the
 * stock form, so the telemetry table measures that too, by putting it back
 * in a child of its own (the function is process-wide).
 */
import type { Attributes } from "@opentelemetry/api";
import { sdkAttributeHash } from "@rngbalance/telemetry";

/** The SDK's own hash, as 2.12.0 ships it (Apache-2.0, the OpenTelemetry Authors). */
function stockHashAttributes(attributes: Attributes): string {
  let keys = Object.keys(attributes);
  if (keys.length === 0) return "";
  keys = keys.sort();
  return JSON.stringify(keys.map((key) => [key, attributes[key]]));
}

/**
 * Puts the stock hash back into the SDK's `utils` module, which its
 * attribute maps read when they are made: call it before any MeterProvider
 * exists. Throws when the module is not where 2.12.0 has it.
 */
export function installStockAttributeHash(): void {
  sdkAttributeHash().hashAttributes = stockHashAttributes;
}
