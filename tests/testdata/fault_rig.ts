/**
 * A stand-in "rig" for tests/faults_test.ts: it records its children the way
 * main.ts does, starts the command after `--` through lib/proc.ts, makes a temp
 * folder, prints "ready <child pid> <temp folder>" and waits to be killed.
 *
 *   deno run -A fault_rig.ts ROOT TMP [--no-watch] [--lock FILE] -- COMMAND...
 */
import { spawn } from "../../lib/proc.ts";
import { ProcRegistry } from "../../lib/proc_registry.ts";
import { withLock } from "../../lib/lock.ts";

const [root, tmp, ...rest] = Deno.args;
const split = rest.indexOf("--");
const flags = rest.slice(0, split);
const command = rest.slice(split + 1);
const lock = flags.includes("--lock") ? flags[flags.indexOf("--lock") + 1] : undefined;
const registry = new ProcRegistry(root!, tmp!, Deno.args);

await registry.run(async () => {
  const work = async () => {
    const temp = await registry.tempDir("test");
    const child = spawn(command, {
      env: { PATH: Deno.env.get("PATH") ?? "/usr/bin:/bin" },
      watchRig: !flags.includes("--no-watch"),
      capture: false,
    });
    console.log(`ready ${child.pid} ${temp}`);
    await child.status;
  };
  if (lock) {
    await withLock(lock, { what: "installing server", onWait: (m) => console.log(m) }, work);
  } else {
    await work();
  }
});
registry.close();
