/**
 * The plan of a release: one step per change it makes, in order from the
 * most to the least reversible (edits, build, commit, tag, push, GitHub
 * release, npm, image, PyPI, read-back), each with the commands it runs (for
 * --dry-run) and the undo action the journal records before it runs.
 */
import * as path from "../path.ts";
import { userCacheDir } from "../cache_paths.ts";
import { RigError } from "../errors.ts";
import { exists } from "../fs.ts";
import { writeFileAtomic } from "../fs_atomic.ts";
import type { BuildResult } from "../builder/artifacts.ts";
import { buildProject } from "../builder/build.ts";
import { applyBump, type planBump } from "../builder/version_bump.ts";
import { openCacheStore } from "../task/cache_open.ts";
import { validateWheel } from "../python/wheel.ts";
import type { Component, Project } from "../project/project.ts";
import type { Ui } from "../ui.ts";
import { prependSection } from "./changelog.ts";
import type { ReleaseConfig } from "./config.ts";
import {
  createRelease,
  getRelease,
  getReleaseByTag,
  type GitHubApi,
  uploadAsset,
} from "./github.ts";
import { git, gitChecked } from "./git_ops.ts";
import {
  type Journal,
  type JournalStep,
  releaseDir,
  type UndoAction,
  writeJournal,
} from "./journal.ts";
import type { Targets } from "./preconditions.ts";
import { pushImages } from "./image.ts";
import { npmHasVersion, publishNpm, verifyNpm, writeUserconfig } from "./publish_npm.ts";
import { uploadCommand, uploadPython, uploadTool, verifyPython } from "./publish_python.ts";

export interface ReleaseOptions {
  /** `major`, `minor`, `patch` or an explicit version. */
  spec: string;
  components: Component[];
  env: Record<string, string>;
  ui: Ui;
  signal: AbortSignal;
  dryRun: boolean;
  push: boolean;
  publish: boolean;
  allowSmallerBump: boolean;
  /** False with --no-cache. */
  cache: boolean;
  verbose: boolean;
  /** The journal of an interrupted release to finish (`--resume`). */
  resume?: Journal;
}

/** One step of the plan, as printed and reported. */
export interface PlannedStep {
  id: string;
  title: string;
  /** Commands and requests the step makes (no secrets). */
  commands: string[];
  state: "planned" | "done" | "failed" | "skipped" | "undone" | "kept";
  detail?: string;
}

/** The result document of `rig release`. */
/** A planned step with its behaviour and its undo. */
export interface Step extends PlannedStep {
  undo: UndoAction;
  run: () => Promise<string | void>;
}

/** Runs (or with dryRun, describes) a release. Throws only before anything changed. */
/** What the steps share while a release runs. */
export interface StepContext {
  project: Project;
  options: ReleaseOptions;
  config: ReleaseConfig;
  targets: Targets;
  version: string;
  tags: string[];
  branch: string;
  section: string;
  changelogFile: string;
  plan: Awaited<ReturnType<typeof planBump>>;
  build: BuildResult | undefined;
  githubReleases: Map<string, number>;
  journal: Journal | undefined;
  current?: { entry: JournalStep; step: Step };
}

/** The steps of a release, in the order they run. */
export function planSteps(ctx: StepContext): Step[] {
  const { project, options, config, targets, version, tags } = ctx;
  const root = project.root;
  const env = options.env;
  const gitOptions = { env, signal: options.signal };
  const steps: Step[] = [];
  const backupDir = path.join(releaseDir(root), "backup");
  const editedFiles = [...new Set(ctx.plan.sites.map((s) => s.display)), config.changelog];
  const notes = ctx.section.replace(/^## .*\n+/, "");

  steps.push({
    id: "edit",
    title: `set version ${version} and prepend ${config.changelog}`,
    commands: editedFiles.map((f) => `edit ${f}`),
    state: "planned",
    undo: {
      kind: "restore-files",
      files: editedFiles.map((f) => ({
        path: f,
        backup: exists(path.join(root, f)) ? path.join(backupDir, f) : undefined,
      })),
    },
    run: async () => {
      for (const file of editedFiles) {
        const from = path.join(root, file);
        if (!exists(from)) continue;
        const to = path.join(backupDir, file);
        // A resumed release keeps the backups of the files as they were before it began.
        if (exists(to)) continue;
        await Deno.mkdir(path.dirname(to), { recursive: true });
        await Deno.copyFile(from, to);
      }
      await applyBump(project, ctx.plan, { backupDir: path.join(backupDir, ".bump") });
      const existing = exists(ctx.changelogFile)
        ? await Deno.readTextFile(ctx.changelogFile)
        : undefined;
      if (options.resume && existing?.includes(ctx.section.split("\n")[0]!)) {
        return `${editedFiles.length} file(s)`;
      }
      await writeFileAtomic(ctx.changelogFile, prependSection(existing, ctx.section));
      return `${editedFiles.length} file(s)`;
    },
  });
  steps.push({
    id: "build",
    title: "build and validate the artifacts",
    commands: options.components.map((c) => `rig build ${c.name}`),
    state: "planned",
    undo: { kind: "none" },
    run: async () => {
      ctx.build = await buildProject(project, {
        env,
        ui: options.ui,
        signal: options.signal,
        components: options.components,
        docker: targets.image.skipped ? "skip" : "auto",
        // Verification installs and imports the published package from the index instead.
        noSmokeTest: !targets.python.skipped,
        // The signed store rig build uses (same key, same output roots), so its entries are hits.
        cache: options.cache
          ? openCacheStore(root, {
            env,
            remoteCache: project.settings.remoteCache,
            components: project.components,
            ui: options.ui,
          })
          : undefined,
      });
      const files = ctx.build.components.flatMap((c) => c.artifacts).filter((a) => a.path);
      return files.map((a) => path.basename(a.path!)).join(", ");
    },
  });
  const commitStep: Step = {
    id: "commit",
    title: `commit "chore(release): v${version}"`,
    commands: [`git add ${editedFiles.join(" ")}`, `git commit -m "chore(release): v${version}"`],
    state: "planned",
    undo: { kind: "reset-commit", commit: "", base: "" },
    run: async () => {
      const subject = await gitChecked(root, ["log", "-1", "--format=%s"], gitOptions);
      if (options.resume && subject === `chore(release): v${version}`) {
        const commit = await gitChecked(root, ["rev-parse", "HEAD"], gitOptions);
        commitStep.undo = { kind: "reset-commit", commit, base: ctx.journal!.base };
        await saveJournal(ctx);
        return `${commit.slice(0, 7)} (made before the interruption)`;
      }
      await gitChecked(root, ["add", "--", ...editedFiles], gitOptions);
      await gitChecked(root, ["commit", "--quiet", "-m", `chore(release): v${version}`], {
        ...gitOptions,
        hint: "Set your identity: git config user.name NAME && git config user.email EMAIL",
      });
      const commit = await gitChecked(root, ["rev-parse", "HEAD"], gitOptions);
      commitStep.undo = { kind: "reset-commit", commit, base: ctx.journal!.base };
      await saveJournal(ctx);
      return commit.slice(0, 7);
    },
  };
  steps.push(commitStep);
  steps.push({
    id: "tag",
    title: `tag ${tags.join(", ")}`,
    commands: tags.map((t) => `git tag -a ${t} -m "Release ${t}"`),
    state: "planned",
    undo: { kind: "delete-local-tags", tags },
    run: async () => {
      for (const tag of tags) {
        if (
          options.resume &&
          (await git(root, ["rev-parse", "-q", "--verify", `refs/tags/${tag}`], gitOptions)).success
        ) {
          continue;
        }
        await gitChecked(
          root,
          ["tag", "-a", "--cleanup=verbatim", tag, "-m", `Release ${tag}\n\n${notes}`],
          gitOptions,
        );
      }
    },
  });
  if (options.push) {
    const pushStep: Step = {
      id: "push",
      title: `push ${ctx.branch} and ${tags.join(", ")} to ${config.remote}`,
      commands: [
        `git push --atomic ${config.remote} HEAD:refs/heads/${ctx.branch} ${
          tags.map((t) => `refs/tags/${t}`).join(" ")
        }`,
      ],
      state: "planned",
      undo: { kind: "push", remote: config.remote, branch: ctx.branch, commit: "", tags },
      run: async () => {
        const commit = await gitChecked(root, ["rev-parse", "HEAD"], gitOptions);
        pushStep.undo = { kind: "push", remote: config.remote, branch: ctx.branch, commit, tags };
        await saveJournal(ctx);
        await gitChecked(
          root,
          [
            "push",
            "--atomic",
            "--quiet",
            config.remote,
            `HEAD:refs/heads/${ctx.branch}`,
            ...tags.map((t) => `refs/tags/${t}`),
          ],
          {
            ...gitOptions,
            hint: `The remote refused the push: fix it, then run rig release again`,
          },
        );
      },
    };
    steps.push(pushStep);
  }
  const artifactsOf = (component?: string) =>
    (ctx.build?.components ?? []).filter((c) => !component || c.component === component)
      .flatMap((c) => c.artifacts)
      // Release files only: an app's build output is a folder, an image has no file.
      .filter((a) => a.path && (a.type === "wheel" || a.type === "sdist" || a.type === "npm"))
      .map((a) => path.join(root, a.path!));
  const token = env[config.github.tokenEnv] ?? "";
  const github: GitHubApi = {
    apiUrl: config.github.apiUrl,
    repo: targets.github.repo ?? "",
    token,
    signal: options.signal,
  };
  if (!targets.github.skipped) {
    for (const tag of tags) {
      const component = config.tags === "per-component"
        ? options.components.find((c) => tag === `${c.name}-v${version}`)?.name
        : undefined;
      const step: Step = {
        id: `github:${tag}`,
        title: `GitHub release ${tag} of ${github.repo}`,
        commands: [
          `POST ${github.apiUrl}/repos/${github.repo}/releases {tag_name: "${tag}"}`,
          "POST <upload_url>?name=<artifact> for every artifact",
        ],
        state: "planned",
        undo: {
          kind: "github-release",
          apiUrl: github.apiUrl,
          repo: github.repo,
          tokenEnv: config.github.tokenEnv,
          tag,
        },
        run: async () => {
          // A resumed release finds the one an interrupted run may have created.
          const created = (options.resume ? await getReleaseByTag(github, tag) : undefined) ??
            await createRelease(github, {
              tag_name: tag,
              name: tag,
              body: notes,
              draft: config.github.draft,
              prerelease: config.github.prerelease,
            });
          ctx.githubReleases.set(tag, created.id);
          step.undo = {
            ...(step.undo as Extract<UndoAction, { kind: "github-release" }>),
            id: created.id,
          };
          await saveJournal(ctx);
          const present = new Set(created.assets.map((a) => a.name));
          for (const file of artifactsOf(component)) {
            if (!present.has(path.basename(file))) await uploadAsset(github, created, file);
          }
          return created.html_url;
        },
      };
      steps.push(step);
    }
  }
  const cacheDir = userCacheDir(env, Deno.build.os);
  const userconfig = path.join(releaseDir(root), "npmrc");
  if (!targets.npm.skipped) {
    for (const pkg of targets.npm.packages) {
      steps.push({
        id: `npm:${pkg.name}`,
        title: `npm publish ${pkg.name}@${version} and verify it`,
        commands: [
          `npm publish dist/${pkg.component.name}/<tarball> --registry ${config.npm.registry} --access ${config.npm.access} --tag ${config.npm.tag}`,
          `npm view ${pkg.name}@${version} version`,
          `npm install ${pkg.name}@${version} (scratch folder)`,
        ],
        state: "planned",
        undo: {
          kind: "npm-unpublish",
          name: pkg.name,
          version,
          registry: config.npm.registry,
          userconfig: env.NPM_TOKEN ? userconfig : undefined,
        },
        run: async () => {
          const tarball = artifactsOf(pkg.component.name).find((f) => f.endsWith(".tgz"));
          if (!tarball) throw new RigError(`No npm tarball was built for "${pkg.component.name}"`);
          const common = {
            env,
            signal: options.signal,
            cwd: pkg.component.dir,
            registry: config.npm.registry,
            userconfig: await writeUserconfig(userconfig, config.npm.registry, env),
            cacheDir,
          };
          if (!options.resume || !await npmHasVersion(pkg.name, version, common)) {
            await publishNpm(tarball, {
              ...common,
              access: config.npm.access,
              tag: config.npm.tag,
            });
          }
          return await verifyNpm(pkg.name, version, {
            ...common,
            scratch: path.join(releaseDir(root), "verify", "npm"),
          });
        },
      });
    }
  }
  if (!targets.image.skipped) {
    steps.push({
      id: "image",
      title: `push the server image to ${config.image.registry}`,
      commands: [
        `docker tag <image> ${config.image.registry}/<image>`,
        `docker push ${config.image.registry}/<image>`,
      ],
      state: "planned",
      undo: {
        kind: "irreversible",
        what: `the image ${version} was pushed to ${config.image.registry}`,
        next: "Delete the tag in the registry (its web UI or API) if it must not be pulled",
      },
      run: async () => {
        const images = (ctx.build?.components ?? []).flatMap((c) => c.artifacts).filter((a) =>
          a.type === "docker-image"
        );
        const outcome = await pushImages(images, {
          registry: config.image.registry!,
          env,
          signal: options.signal,
        });
        if (outcome.skipped) {
          options.ui.warn(`Image not pushed: ${outcome.skipped}`);
          return `skipped: ${outcome.skipped}`;
        }
        return outcome.pushed.join(", ");
      },
    });
  }
  if (!targets.python.skipped) {
    let tool: { tool: "twine" | "uv"; program: string } | undefined;
    try {
      tool = uploadTool(config.python, env);
    } catch {
      // Reported by the preconditions.
    }
    for (const pkg of targets.python.packages) {
      const step: Step = {
        id: `pypi:${pkg.name}`,
        title: `upload ${pkg.name} ${version} to ${config.python.repositoryUrl} and verify it`,
        commands: [
          tool
            ? uploadCommand(config.python, [`dist/${pkg.component.name}/*`], env, tool).argv
              .map((a) =>
                path.basename(a) === a || a.startsWith("http") || a.startsWith("dist/")
                  ? a
                  : path.basename(a)
              )
              .join(" ")
            : "twine upload …",
          `pip install --index-url ${config.python.indexUrl} --no-deps ${pkg.name}==${version} (scratch venv), then import it`,
        ],
        state: "planned",
        undo: {
          kind: "pypi-upload",
          indexUrl: config.python.indexUrl,
          repositoryUrl: config.python.repositoryUrl,
          name: pkg.name,
          version,
          files: [],
        },
        run: async () => {
          const files = artifactsOf(pkg.component.name).filter((f) =>
            f.endsWith(".whl") || f.endsWith(".tar.gz")
          );
          if (!files.length) {
            throw new RigError(`No wheel or sdist was built for "${pkg.component.name}"`);
          }
          step.undo = {
            ...(step.undo as Extract<UndoAction, { kind: "pypi-upload" }>),
            files: files.map((f) => path.basename(f)),
          };
          await saveJournal(ctx);
          await uploadPython(config.python, files, {
            env,
            signal: options.signal,
            cwd: root,
            skipExisting: !!options.resume,
          });
          const wheel = files.find((f) => f.endsWith(".whl"));
          const report = wheel
            ? await validateWheel(wheel, { name: pkg.name, version })
            : undefined;
          return await verifyPython(config.python, {
            env,
            signal: options.signal,
            venvDir: path.join(releaseDir(root), "verify", "python"),
            component: pkg.component,
            name: pkg.name,
            version,
            modules: report?.topLevel ?? [],
          });
        },
      };
      steps.push(step);
    }
  }
  if (!targets.github.skipped) {
    steps.push({
      id: "github:verify",
      title: "read the GitHub release back",
      commands: tags.map((t) => `GET ${github.apiUrl}/repos/${github.repo}/releases/<id of ${t}>`),
      state: "planned",
      undo: { kind: "none" },
      run: async () => {
        const seen: string[] = [];
        for (const tag of tags) {
          const id = ctx.githubReleases.get(tag)!;
          const back = await getRelease(github, id);
          const component = config.tags === "per-component"
            ? options.components.find((c) => tag === `${c.name}-v${version}`)?.name
            : undefined;
          const expected = artifactsOf(component).map((f) => path.basename(f)).sort();
          const names = back.assets.filter((a) => a.state === "uploaded").map((a) => a.name).sort();
          if (back.tag_name !== tag || JSON.stringify(names) !== JSON.stringify(expected)) {
            throw new RigError(
              `Verification failed: GitHub release ${tag} reads back as tag "${back.tag_name}" with assets ${
                names.join(", ") || "(none)"
              }; expected ${expected.join(", ")}`,
            );
          }
          seen.push(`${tag} with ${names.length} asset(s)`);
        }
        return seen.join("; ");
      },
    });
  }
  return steps;
}

/** Records the running step's undo as it learns more (a commit, a release id) before going on. */
export async function saveJournal(ctx: StepContext): Promise<void> {
  if (!ctx.journal) return;
  if (ctx.current) ctx.current.entry.undo = ctx.current.step.undo;
  await writeJournal(ctx.project.root, ctx.journal);
}
