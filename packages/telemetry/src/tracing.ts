import { context, propagation, type TracerProvider, trace } from "@opentelemetry/api";
import { AsyncLocalStorageContextManager } from "@opentelemetry/context-async-hooks";
import { CompositePropagator, W3CBaggagePropagator, W3CTraceContextPropagator } from "@opentelemetry/core";

/**
 * Installs `provider` as the global TracerProvider the way a Node app needs
 * it: an AsyncLocalStorage context manager (so a span started inside a
 * call is that call's child) and the W3C trace-context and baggage
 * propagators (so `traceparent` crosses processes). The SDK's
 * `TracerProvider` has no `register()` and installs none of these itself.
 *
 * @returns what undoes it: disables the globals it set.
 */
export function registerTracerProvider(provider: TracerProvider): () => void {
  context.setGlobalContextManager(new AsyncLocalStorageContextManager().enable());
  propagation.setGlobalPropagator(
    new CompositePropagator({ propagators: [new W3CTraceContextPropagator(), new W3CBaggagePropagator()] }),
  );
  trace.setGlobalTracerProvider(provider);
  return () => {
    trace.disable();
    propagation.disable();
    context.disable();
  };
}
