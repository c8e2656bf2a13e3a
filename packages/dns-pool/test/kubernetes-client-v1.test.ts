/**
 * kubernetes:/// targets with @kubernetes/client-node 1.x (on node-fetch),
 * which the pool supports next to 2.x: the tests of kubernetes-suite.ts,
 * with the package name resolved to the 1.x copy installed as
 * @kubernetes/client-node-v1, for this process (the test runner gives each
 * file its own). The resolver's `import("@kubernetes/client-node")` and the
 * test's own KubeConfig both get 1.x, as in an application that installed 1.x.
 */
import { registerHooks } from "node:module";

registerHooks({
  resolve(specifier, context, nextResolve) {
    return nextResolve(
      specifier === "@kubernetes/client-node" ? "@kubernetes/client-node-v1" : specifier,
      context,
    );
  },
});

// After the hook: a static import would load the suite (and 2.x) first.
const { describeKubernetesResolver } = await import("./kubernetes-suite.js");
describeKubernetesResolver(1);
