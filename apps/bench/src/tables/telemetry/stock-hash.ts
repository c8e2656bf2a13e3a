/**
 * The workspace patches @opentelemetry/sdk-metrics 3.1.1's `hashAttributes`
 * (patches/@opentelemetry__sdk-metrics@3.1.1.patch): the SDK calls it on
 * every record, and its stock form was most of what gRPC's metrics cost a
 * call. An application that installs the SDK from the registry runs the
 * stock form, so the telemetry table measures that too, in a child of its
 * own (the switch is process-wide).
 */
import assert from "node:assert/strict";
import { registerHooks } from "node:module";

/** The SDK's own hash, as 3.1.1 ships it (Apache-2.0, the OpenTelemetry Authors). */
const STOCK_HASH_ATTRIBUTES = `function hashAttributes(attributes) {
	let keys = Object.keys(attributes);
	if (keys.length === 0) return "";
	keys = keys.sort();
	return JSON.stringify(keys.map((key) => [key, attributes[key]]));
}
`;

/** The SDK's bundled utils module, in both formats. */
const SDK_UTILS = /[\\/]@opentelemetry[\\/]sdk-metrics[\\/]dist[\\/]utils\.(mjs|cjs)$/;

/**
 * Loads the SDK's `utils` module with the stock hash in it, in both module
 * formats: a load hook renames the patched function aside and puts the
 * stock one under its name, so everything that imports `hashAttributes`
 * gets the stock one. ES modules' bindings cannot be reassigned once
 * loaded, hence a hook: call this before anything loads the SDK (the
 * bench's children import it lazily). Checks that it took, through
 * `sdkAttributeHashes()`, and throws when not.
 */
export async function installStockAttributeHash(): Promise<void> {
  registerHooks({
    load(url, context, nextLoad) {
      const loaded = nextLoad(url, context);
      if (!SDK_UTILS.test(url) || loaded.source === undefined) return loaded;
      const source = String(loaded.source);
      const head = "function hashAttributes(attributes) {";
      if (!source.includes(head)) throw new Error(`${url} has no ${head}: the stock hash needs redoing`);
      return {
        ...loaded,
        source: source.replace(head, `${STOCK_HASH_ATTRIBUTES}function patchedHashAttributes(attributes) {`),
      };
    },
  });
  const { sdkAttributeHashes } = await import("@rngbalance/telemetry");
  for (const { path, hashAttributes } of await sdkAttributeHashes()) {
    assert.equal(hashAttributes({ b: 2, a: "x" }), '[["a","x"],["b",2]]', `the stock hash is not in ${path}`);
  }
}
