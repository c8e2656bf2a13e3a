/**
 * kubernetes:/// targets with @kubernetes/client-node 2.x, the package's
 * own (ESM-only, on undici). The tests are in kubernetes-suite.ts;
 * kubernetes-client-v1.test.ts runs them with 1.x.
 */
import { describeKubernetesResolver } from "./kubernetes-suite.js";

describeKubernetesResolver(2);
