#!/usr/bin/env node
import { createInterface } from "node:readline";
import { Demo } from "./demo.js";
import { FlagError, parseDemoFlags, USAGE } from "./flags.js";
import { createStyle, wantColor } from "./style.js";

let parsed: ReturnType<typeof parseDemoFlags>;
try {
  parsed = parseDemoFlags(process.argv.slice(2));
} catch (err) {
  if (!(err instanceof FlagError)) throw err;
  process.stderr.write(`rng-demo: ${err.message}\n\n${USAGE}\n`);
  process.exit(2);
}
if (parsed.help) {
  process.stdout.write(`${USAGE}\n`);
  process.exit(0);
}
const { config } = parsed;
const style = createStyle(wantColor(process.stdout, process.env));
let stdoutOpen = true;
const write = (line: string): void => {
  if (stdoutOpen) process.stdout.write(`${line}\n`);
};

const stop = new AbortController();
const demo = new Demo({ fast: config.fast, style, write, signal: stop.signal });
let interrupted = false;
const onSignal = (signal: NodeJS.Signals) => {
  if (interrupted) {
    // A second Ctrl-C: no more waiting for drains.
    demo.killAll();
    process.exit(130);
  }
  interrupted = true;
  write(style.red(`\n${signal}: stopping every process (again to kill them at once)`));
  stop.abort(new Error(signal));
};
process.on("SIGINT", onSignal);
process.on("SIGTERM", onSignal);
process.on("SIGHUP", onSignal);
// Output cut off (`pnpm demo | head`): stop as on Ctrl-C, without another word.
process.stdout.on("error", () => {
  stdoutOpen = false;
  if (!interrupted) onSignal("SIGPIPE");
});
// Last resort, whatever ends this process (a bug, an uncaught error): no orphans.
process.on("exit", () => demo.killAll());

let failed = false;
try {
  await demo.setUp();
  if (config.interactive) await interactive(demo);
  else await demo.run();
} catch (err) {
  if (!stop.signal.aborted) {
    failed = true;
    write(style.red(`demo failed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}`));
  }
}

write("");
write(style.bold("▶ Stopping everything"));
const alive = await demo.close();
const pids = demo.pids;
if (alive.length === 0) {
  write(`  all ${pids.length} child processes have exited: pids ${pids.join(" ")}`);
} else {
  write(style.red(`  still running: pids ${alive.join(" ")}`));
}
if (demo.results.length > 0) {
  write("");
  write(style.bold("▶ Summary"));
  for (const line of demo.table().split("\n")) write(`  ${line}`);
}
const allOk = demo.results.every((r) => r.ok);
process.exitCode = interrupted ? 130 : failed || !allOk || alive.length > 0 ? 1 : 0;

/** `--interactive`: a client runs while stdin commands scale the fleet. */
async function interactive(d: Demo): Promise<void> {
  write("");
  write(style.bold("▶ Interactive: the client runs while you scale the Service"));
  write(style.dim("  commands: scale N | add | remove | kill (a crash: SIGKILL) | quit (or Ctrl-D)"));
  const client = d.startInteractiveClient();
  const rl = createInterface({ input: process.stdin, terminal: false });
  const fleet = d.localFleet!;
  try {
    await new Promise<void>((resolve) => {
      let queue = Promise.resolve();
      stop.signal.addEventListener("abort", () => resolve(), { once: true });
      rl.on("close", () => void queue.then(resolve));
      rl.on("line", (input) => {
        const [cmd, arg] = input.trim().split(/\s+/);
        queue = queue.then(async () => {
          const newest = () => fleet.servers.at(-1);
          switch (cmd) {
            case "":
            case undefined:
              return;
            case "scale": {
              const n = Number(arg);
              if (!Number.isInteger(n) || n < 0 || n > 50)
                return write(style.red("  scale needs a number from 0 to 50"));
              return d.scaleTo(n);
            }
            case "add":
              return d.scaleTo(fleet.servers.length + 1);
            case "remove":
            case "kill": {
              const s = newest();
              if (!s) return write(style.red("  no pod left"));
              return d.removePod(s, cmd === "kill");
            }
            case "quit":
            case "exit":
              rl.close();
              return;
            default:
              write(style.red(`  unknown command "${cmd}": scale N | add | remove | kill | quit`));
          }
        });
      });
    });
  } finally {
    rl.close();
    await d.finishClient(client);
  }
}
