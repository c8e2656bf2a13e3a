#!/usr/bin/env node
/**
 * `node pick.child.js '<PickConfig JSON>'`: ns per pick of the pool's real
 * `RoundRobinPicker` and `LeastRequestPicker`, in a process of its own so
 * that nothing else shares its JIT and heap.
 */
import { LeastRequestPicker, RoundRobinPicker } from "@rngbalance/dns-pool";
import { childArgs, reportResult } from "../../harness/child.js";
import { type PickConfig, realPickers } from "./pick.js";

const config = childArgs<PickConfig>({ sizes: "array", picks: "number", rounds: "number" });
reportResult(Promise.resolve().then(() => realPickers(config, RoundRobinPicker, LeastRequestPicker)));
