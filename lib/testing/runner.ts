/**
 * `rig test`'s orchestrator: plans the tasks (plan.ts), answers them from
 * the cache when their keys match, installs what the rest need, starts the test
 * database and the server (services.ts) only as long as tasks need them,
 * and runs each task (component_tests.ts).
 */
import { changedFiles, relativeToProject } from "../git.ts";
import { type ChangedSelection, groupChanges, selectChanged } from "../project/selection.ts";
import { InterruptedError } from "../errors.ts";
import { mark } from "../trace.ts";
import { makeRunTempDir, removeRunTempDir } from "../proc_registry.ts";
import { type Component, isNode, type Project, topoOrder } from "../project/project.ts";
import type { Ui } from "../ui.ts";
import { loadEnvironment } from "../env/env_config.ts";
import { sourceLookup } from "../env/sources.ts";
import { TaskEngine } from "../task/task.ts";
import type { KeyManifest } from "../task/task_key.ts";
import { asgiApp } from "../python/uvicorn.ts";
import { undeclaredVariables } from "../task/hermetic_env.ts";
import {
  CONTRACT_TASK,
  exportContract,
  rememberContract,
  rememberedContract,
} from "./openapi_contract.ts";
import { venvEnv } from "../python/venv.ts";
import {
  cacheTask,
  type ComponentState,
  describeComponents,
  emptySummary,
  fullCommand,
  keyInputFor,
  narrowPythonTests,
  type PlannedTask,
  serverCodeHash,
  serverOf,
  sourceText,
  type TestRunOptions,
} from "./plan.ts";
import {
  describeSummary,
  showCached,
  taskLabel,
  type TaskOutcome,
  type TaskSummary,
  type TestReport,
} from "./report.ts";
import type { RunningServer } from "./services.ts";
/** The planned tasks of a suite with their keys, and what planning them needed. */
export interface SuitePlan {
  engine: TaskEngine;
  tasks: PlannedTask[];
  states: Map<string, ComponentState>;
  /** The selected components and the servers their integration tasks need. */
  involved: Component[];
  configValues: Record<string, string>;
  /** Where each configuration key came from (`.env line 3`), for database errors. */
  sourceOf: (key: string) => string | undefined;
  mask: (text: string) => string;
  /** (Re)computes every task's key; exports a server's contract only when allowed. */
  computeKeys(allowExport: boolean): Promise<void>;
  /** Reads the files, tools and environments again (after installing). */
  refresh(): Promise<void>;
  /** A server's OpenAPI document (the app's key order) and hash, exported when needed. */
  contractDocument(server: Component): Promise<{ document: string; hash: string } | undefined>;
}

/**
 * Plans the selected components' tasks without starting anything: one listing
 * and fingerprint for all involved components, their tools and hermetic
 * environments, `--changed` narrowing, and each task's key. A server's
 * contract comes from the store; it is exported only when `exportContract` asks.
 */
export async function planSuite(project: Project, opts: TestRunOptions): Promise<SuitePlan> {
  const { ui } = opts;
  const loaded = await loadEnvironment(project, {
    name: "test",
    processEnv: opts.env,
    ui,
    generate: true,
  });
  const configValues: Record<string, string> = {};
  for (const key of loaded.keys) {
    const value = loaded.values[key];
    if (value !== undefined) configValues[key] = value;
  }
  mark("test environment loaded");
  const engine = new TaskEngine(project, {
    env: opts.env,
    ui,
    readCache: opts.readCache,
    writeCache: opts.writeCache,
  });
  const servers = new Set<Component>();
  for (const c of opts.components) {
    const server = serverOf(project, c);
    if (server) servers.add(server);
  }
  const involved = project.components.filter((c) => opts.components.includes(c) || servers.has(c));
  const states = await describeComponents(engine, involved, { configValues });
  mark("inputs listed and fingerprinted");

  const contracts = new Map<string, string>();
  // The documents themselves, for the drift check of generated clients.
  const documents = new Map<string, { document: string; hash: string }>();
  const contractOf = async (server: Component, allowExport: boolean) => {
    const known = contracts.get(server.name);
    if (known) return known;
    const state = states.get(server.name)!;
    const app = asgiApp(server);
    const task = await engine.key({
      task: CONTRACT_TASK,
      component: server.name,
      command: ["export-openapi", app],
      inputs: state.manifest,
      tools: state.tools,
      env: state.keyEnv,
    });
    const remembered = await rememberedContract(engine, task, server.name);
    if (remembered) {
      documents.set(server.name, {
        document: remembered.natural ?? remembered.document,
        hash: remembered.hash,
      });
      contracts.set(server.name, remembered.hash);
      return remembered.hash;
    }
    if (!allowExport) return undefined;
    if (!state.venv || !server.app) {
      // Without an app to import, the server's code stands in for its contract.
      const code = `code:${await serverCodeHash(state)}`;
      contracts.set(server.name, code);
      return code;
    }
    const step = ui.step(`export ${server.name} API contract`);
    try {
      const exportStarted = performance.now();
      const contract = await exportContract(server.dir, {
        python: state.venv.python,
        app,
        env: venvEnv(state.venv, state.env),
        signal: opts.signal,
      });
      await rememberContract(engine, task, server.name, {
        ...contract,
        durationMs: performance.now() - exportStarted,
      });
      step.done(`openapi ${contract.hash.slice(0, 12)}`);
      documents.set(server.name, {
        document: contract.natural ?? contract.document,
        hash: contract.hash,
      });
      contracts.set(server.name, contract.hash);
      return contract.hash;
    } catch (error) {
      step.fail();
      throw error;
    }
  };

  // Dependencies first; integration tasks last, so the server starts once after every unit run.
  const tasks: PlannedTask[] = [];
  const integration: PlannedTask[] = [];
  for (const c of topoOrder(opts.components)) {
    const state = states.get(c.name)!;
    const server = serverOf(project, c);
    tasks.push({ component: c, task: "test", server, key: "" });
    if (
      server && opts.mode !== "lint-only" && opts.passthrough.length === 0 &&
      state.integrationFiles.length > 0
    ) {
      integration.push({ component: c, task: "integration", server, key: "" });
    }
  }
  tasks.push(...integration);
  const computeKeys = async (allowExport: boolean) => {
    for (const t of tasks) {
      const input = await keyInputFor(
        t,
        states,
        opts,
        () => t.server ? contractOf(t.server, allowExport) : Promise.resolve(undefined),
      );
      if (!input) continue;
      const { key, manifest } = await engine.key(input);
      t.input = input;
      t.manifest = manifest;
      t.key = key;
      if (t.files) {
        t.fullKey = (await engine.key({ ...input, command: fullCommand(input.command) })).key;
      }
    }
  };
  narrowPythonTests(tasks, states, opts);
  await computeKeys(opts.dryRun && !!opts.exportContract);
  return {
    engine,
    tasks,
    states,
    involved,
    configValues,
    sourceOf: sourceLookup(loaded.sources),
    mask: loaded.mask,
    computeKeys,
    async contractDocument(server) {
      const hash = await contractOf(server, true);
      if (!hash || hash.startsWith("code:")) return undefined;
      return documents.get(server.name);
    },
    async refresh() {
      contracts.clear();
      documents.clear();
      const fresh = await describeComponents(engine, involved, { configValues });
      for (const [name, state] of fresh) states.set(name, state);
    },
  };
}

/** Runs the selected components' test tasks, from the cache when possible. */
export async function runTestSuite(project: Project, opts: TestRunOptions): Promise<TestReport> {
  const started = performance.now();
  const { ui } = opts;
  const plan = await planSuite(project, opts);
  const { engine, tasks, states, configValues, mask } = plan;
  const store = engine.store;

  // 2. Cache lookups.
  const lookup = async (t: PlannedTask) => {
    if (!t.key) return;
    for (const key of [t.fullKey, t.key]) {
      if (!key) continue;
      const record = await engine.lookup(key, {
        task: cacheTask(t, opts.mode),
        component: t.component.name,
      });
      if (!record) continue;
      const summary = record.summary as TaskSummary;
      const reasons = [`cached: nothing changed since the run of ${record.createdAt}`];
      let log: string | undefined;
      if (opts.verbose) log = await store.readLog(record).catch(() => undefined);
      t.outcome = { summary, key, cached: true, reasons, log };
      return;
    }
  };
  // Independent reads: awaiting them one after another would add up their latencies.
  await Promise.all(tasks.map(lookup));
  const explainMiss = async (t: PlannedTask): Promise<string[]> => {
    const reasons: string[] = [];
    if (!opts.readCache) reasons.push(opts.writeCache ? "--force: cache ignored" : "--no-cache");
    if (t.narrowReasons?.length) reasons.push(...t.narrowReasons);
    if (!t.manifest) reasons.push("not run yet: its key needs the installed environment");
    else {
      // A narrowed run is compared with the full run it stands in for.
      const full = (m: KeyManifest) => ({ ...m, command: fullCommand(m.command) });
      reasons.push(
        ...await engine.explainMiss(
          { task: cacheTask(t, opts.mode), component: t.component.name },
          t.manifest,
          { normalise: full },
        ),
      );
    }
    if (t.task === "integration" && t.server) {
      reasons.push(
        `integration tests depend on "${t.server.name}"'s code (${t.server.name}:code); ` +
          `unit tests only on its API contract (${t.server.name}:openapi)`,
      );
    }
    return reasons;
  };

  const pending = tasks.filter((t) => !t.outcome);
  mark("keys and cache lookups");
  if (opts.dryRun) {
    const { describePlan } = await import("./component_tests.ts");
    for (const t of pending) {
      t.outcome = {
        summary: emptySummary(t),
        key: t.key,
        cached: false,
        reasons: await explainMiss(t),
        planned: describePlan(project, t, states.get(t.component.name)!, opts),
      };
    }
    return finish(tasks, started, mask);
  }

  // 3. Install what the pending tasks need, then recompute their keys.
  if (pending.length) {
    const needed = new Set<Component>();
    for (const t of pending) {
      needed.add(t.component);
      if (t.server) needed.add(t.server);
    }
    const { ensureInstalled } = await import("../install/install.ts");
    await ensureInstalled(project, project.components.filter((c) => needed.has(c)), {
      env: opts.env,
      ui,
      signal: opts.signal,
    });
    // Installing may write inputs (a new package-lock.json): look at the files again.
    await plan.refresh();
    await plan.computeKeys(true);
    for (const t of pending) {
      await lookup(t);
      if (!t.outcome) t.outcome = undefined;
    }
  }

  // 4. Run: database and server live only as long as the tasks that need them.
  const toRun = tasks.filter((t) => !t.outcome);
  const reasonsFor = new Map<PlannedTask, string[]>();
  for (const t of toRun) reasonsFor.set(t, await explainMiss(t));
  for (const t of tasks.filter((t) => t.outcome)) showCached(ui, t.outcome!);
  if (!toRun.length) return finish(tasks, started, mask);
  const { runTask } = await import("./component_tests.ts");
  const { launchServer, TestDatabase } = await import("./services.ts");
  const temp = await makeRunTempDir("test");
  const database = new TestDatabase(project, {
    engine,
    temp,
    configValues,
    env: opts.env,
    ui,
    mask,
    signal: opts.signal,
    sourceOf: plan.sourceOf,
  });
  let server: RunningServer | undefined;
  try {
    const save = async (t: PlannedTask, result: TaskOutcome) => {
      t.outcome = result;
      if (result.summary.ok && t.manifest) {
        await engine.save(
          { key: t.key, manifest: t.manifest },
          { task: cacheTask(t, opts.mode), component: t.component.name },
          {
            exitCode: 0,
            summary: result.summary,
            durationMs: result.summary.durationMs,
            log: result.log ?? "",
          },
        );
      }
    };
    for (const t of toRun) {
      if (opts.signal.aborted) throw new InterruptedError();
      if (t.outcome) continue;
      const state = states.get(t.component.name)!;
      // A node client's unit and integration tests come from one `npm test`: when both must
      // run, one run with the server's URL answers both (its test script compiles everything).
      const partner = t.task === "test" && isNode(t.component)
        ? toRun.find((o) => o.component === t.component && o.task === "integration")
        : undefined;
      let url: string | undefined;
      if ((t.task === "integration" || partner) && t.server) {
        server ??= launchServer(t.server, {
          state: states.get(t.server.name)!,
          database,
          signal: opts.signal,
          ui,
        });
        // Tests connect as soon as they start (a compiled client's `npm test` takes well under a
        // second), so the server must answer first; its failure stops the run with its output.
        url = await server.ready;
      }
      const label = partner
        ? `${t.component.name} (with integration)`
        : taskLabel(t.component.name, t.task);
      const step = ui.step(label);
      let result: TaskOutcome;
      try {
        result = await runTask(t, state, {
          ...opts,
          project,
          contractDocument: (server) => plan.contractDocument(server),
          temp,
          database,
          serverUrl: url,
          mask,
        });
      } catch (error) {
        step.fail();
        throw error;
      }
      result.reasons = reasonsFor.get(t) ?? [];
      if (result.summary.ok) step.done(describeSummary(result.summary));
      else {
        step.fail(describeSummary(result.summary));
        result.undeclared = undeclaredVariables(opts.env, {
          passed: state.env,
          sourceText: await sourceText(project.root, state.manifest),
          component: t.component.name,
        });
      }
      await save(t, result);
      if (partner) {
        await save(partner, {
          ...result,
          summary: {
            ...result.summary,
            task: "integration",
            checks: [],
            // Only the tests it ran; the unit task reports the rest (each test once).
            counts: result.integrationCounts ?? null,
            coverage: null,
          },
          key: partner.key,
          reasons: [
            ...(reasonsFor.get(partner) ?? []),
            `ran together with the unit tests (one npm test with the server's URL)`,
          ],
        });
      }
    }
  } finally {
    if (server) await server.stop();
    await database.dispose();
    await removeRunTempDir(temp);
  }
  return finish(tasks, started, mask);
}

function finish(tasks: PlannedTask[], started: number, mask: (t: string) => string): TestReport {
  const outcomes = tasks.map((t) => t.outcome!).filter(Boolean);
  return {
    ok: outcomes.every((o) => o.summary.ok),
    tasks: outcomes,
    durationMs: performance.now() - started,
    mask,
  };
}

// ---------------------------------------------------------------------------
// --changed: which components an edit can affect.

/**
 * The components `rig test --changed [REF]` runs among `candidates`: those whose
 * files changed (vs HEAD, or the merge-base with REF) and the dependents whose view
 * of a dependency's contract changed, with the changed files of each and why.
 */
export async function selectByChanges(
  project: Project,
  candidates: Component[],
  opts: { ref?: string; env: Record<string, string>; ui: Ui; signal: AbortSignal },
): Promise<ChangedSelection & { changed: Map<string, string[]> }> {
  const { ref } = opts;
  const diff = await changedFiles(project.root, { env: opts.env, ref, signal: opts.signal });
  const files = relativeToProject(diff.root, project.root, diff.files);
  const changes = groupChanges(project, files);
  opts.ui.debug(
    `Changed files${ref ? ` since merge-base with "${ref}"` : ""}: ${files.join(", ")}`,
  );
  // A dependent is selected when the contract it was last tested against no longer matches:
  // one plan of every candidate (one listing, each contract looked up or exported once) answers
  // that for all of them, through their unit tasks' keys.
  let probe: Promise<SuitePlan> | undefined;
  const selection = await selectChanged(project, {
    changes,
    candidates,
    contractChanged: async (dependency, dependent) => {
      if (dependency.kind !== "python-app") return true;
      probe ??= planSuite(project, {
        components: candidates,
        env: opts.env,
        ui: opts.ui,
        signal: opts.signal,
        mode: "all",
        passthrough: [],
        readCache: true,
        writeCache: true,
        explain: false,
        dryRun: true,
        verbose: false,
        exportContract: true,
      });
      const plan = await probe;
      const unit = plan.tasks.find((t) => t.component === dependent && t.task === "test");
      return !unit?.key || !(await plan.engine.store.has(unit.key));
    },
  });
  const changed = new Map<string, string[]>();
  for (const c of selection.components) {
    if (changes.global.length) continue;
    const own = changes.byComponent.get(c.name);
    if (own?.length) changed.set(c.name, own);
  }
  return { ...selection, changed };
}
