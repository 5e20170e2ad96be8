import assert from "node:assert/strict";
import * as path from "node:path";
import { rememberedGitListing } from "../lib/task/listing_memo.ts";
import { ALWAYS_EXCLUDED_DIRS } from "../lib/task/input_listing.ts";
import { gitListingFile } from "../lib/cache_paths.ts";
import { git, gitRepository, tempDir, writeFiles } from "./helpers.ts";

const env = Deno.env.toObject();
/** An environment in which git cannot start: a listing then can only come from the memo. */
const noGit = { ...env, PATH: "/nonexistent" };
const PAST = new Date(Date.now() - 3_600_000);

/** Sets every file and folder below `root` (and .git's) an hour back: nothing is "racy". */
function age(root: string): void {
  const visit = (dir: string) => {
    for (const entry of Deno.readDirSync(dir)) {
      const full = path.join(dir, entry.name);
      if (entry.isDirectory) visit(full);
      Deno.utimeSync(full, PAST, PAST);
    }
  };
  visit(root);
  Deno.utimeSync(root, PAST, PAST);
}

async function repo(files: Record<string, string>): Promise<{ root: string } & AsyncDisposable> {
  const dir = await tempDir();
  await writeFiles(dir.path, files);
  await gitRepository(dir.path);
  age(dir.path);
  return { root: dir.path, [Symbol.asyncDispose]: () => dir[Symbol.asyncDispose]() };
}

const list = (root: string, e = env) => rememberedGitListing(root, e, ALWAYS_EXCLUDED_DIRS);

/** Lists twice, ageing the tree between: the second listing is remembered with settled stat data. */
async function remember(root: string, e = env): Promise<string[] | undefined> {
  await list(root, e);
  age(root);
  return await list(root, e);
}

Deno.test("a remembered git listing is used, without starting git, while nothing it depends on changed", async () => {
  await using r = await repo({ "a.py": "a\n", "pkg/b.py": "b\n", ".gitignore": "*.log\n" });
  const first = await remember(r.root);
  assert.deepEqual(first?.sort(), [".gitignore", "a.py", "pkg/b.py"]);
  // With git gone from PATH, only the memo can answer; without a memo git is needed.
  assert.deepEqual((await list(r.root, noGit))?.sort(), first?.sort());
  Deno.removeSync(gitListingFile(r.root));
  assert.equal(await list(r.root, noGit), undefined);
});

Deno.test("an added, removed or renamed file, a new folder or an edited .gitignore makes rig ask git again", async () => {
  await using r = await repo({
    "a.py": "a\n",
    "pkg/b.py": "b\n",
    "logs/old.log": "ignored\n",
    ".gitignore": "*.log\n",
  });
  const changes: [string, () => void, (files: string[]) => boolean][] = [
    [
      "an untracked file in a subfolder",
      () => Deno.writeTextFileSync(path.join(r.root, "pkg/c.py"), ""),
      (f) => f.includes("pkg/c.py"),
    ],
    [
      "a file in a folder of only ignored files",
      () => Deno.writeTextFileSync(path.join(r.root, "logs/keep.txt"), ""),
      (f) => f.includes("logs/keep.txt"),
    ],
    ["a new nested folder", () => {
      Deno.mkdirSync(path.join(r.root, "pkg/deep/er"), { recursive: true });
      Deno.writeTextFileSync(path.join(r.root, "pkg/deep/er/d.py"), "");
    }, (f) => f.includes("pkg/deep/er/d.py")],
    [
      "a rename",
      () => Deno.renameSync(path.join(r.root, "a.py"), path.join(r.root, "z.py")),
      (f) => f.includes("z.py"),
    ],
    [
      "an edited .gitignore",
      () => Deno.writeTextFileSync(path.join(r.root, ".gitignore"), "*.txt\n"),
      (f) => f.includes("logs/old.log") && !f.includes("logs/keep.txt"),
    ],
  ];
  for (const [what, change, seen] of changes) {
    await remember(r.root);
    change();
    const files = await list(r.root);
    assert.ok(files && seen(files), `${what}: ${JSON.stringify(files)}`);
  }
});

Deno.test("what other task runners and frameworks write in their own folders (.turbo, .next) does not make rig ask git again", async () => {
  await using r = await repo({ "a.py": "a\n", ".gitignore": ".turbo/\n.next/\n" });
  await writeFiles(r.root, { ".turbo/turbo-test.log": "old\n", "web/.next/cache/x": "" });
  const first = await remember(r.root);
  // turbo rewrites its logs through a temp file and a rename on every run.
  await writeFiles(r.root, { ".turbo/turbo-test.log.tmp": "new\n", "web/.next/cache/y": "" });
  Deno.renameSync(
    path.join(r.root, ".turbo/turbo-test.log.tmp"),
    path.join(r.root, ".turbo/turbo-test.log"),
  );
  assert.deepEqual((await list(r.root, noGit))?.sort(), first?.sort());
});

Deno.test("staging a file changes the index, and the listing follows", async () => {
  await using r = await repo({ "a.py": "a\n", ".gitignore": "secret.txt\n" });
  await writeFiles(r.root, { "secret.txt": "x\n" });
  await remember(r.root);
  assert.ok(!(await list(r.root, noGit))!.includes("secret.txt"), "remembered, ignored");
  await git(r.root, "add", "-f", "secret.txt");
  assert.ok((await list(r.root))!.includes("secret.txt"));
});

Deno.test("a listing observed while its folders were changing is not remembered", async () => {
  await using r = await repo({ "a.py": "a\n" });
  await remember(r.root);
  Deno.removeSync(gitListingFile(r.root));
  Deno.writeTextFileSync(path.join(r.root, "fresh.py"), "written as git lists\n");
  assert.ok((await list(r.root))!.includes("fresh.py"));
  assert.throws(() => Deno.statSync(gitListingFile(r.root)), Deno.errors.NotFound);
});

Deno.test("a corrupt remembered listing is ignored and replaced", async () => {
  await using r = await repo({ "a.py": "a\n" });
  await remember(r.root);
  for (
    const text of ["{not json", '{"version":1,"context":"x","files":"evil.py","watched":[[1,2]]}']
  ) {
    Deno.writeTextFileSync(gitListingFile(r.root), text);
    assert.deepEqual(await list(r.root), ["a.py"]);
  }
  age(r.root);
  await list(r.root);
  assert.deepEqual(await list(r.root, noGit), ["a.py"], "the fresh memo answers");
});

Deno.test("a global excludes file is watched: a new rule there hides a file", async () => {
  await using r = await repo({ "a.py": "a\n" });
  await using home = await tempDir();
  const ignore = path.join(home.path, "global-ignore");
  Deno.writeTextFileSync(ignore, "");
  Deno.writeTextFileSync(
    path.join(home.path, ".gitconfig"),
    `[core]\n\texcludesFile = ${ignore}\n`,
  );
  const e = { ...env, HOME: home.path, XDG_CONFIG_HOME: path.join(home.path, ".config") };
  Deno.writeTextFileSync(path.join(r.root, "notes.md"), "");
  Deno.utimeSync(ignore, PAST, PAST);
  Deno.utimeSync(path.join(home.path, ".gitconfig"), PAST, PAST);
  assert.ok((await remember(r.root, e))!.includes("notes.md"));
  assert.ok((await list(r.root, { ...e, PATH: "/nonexistent" }))!.includes("notes.md"));
  Deno.writeTextFileSync(ignore, "*.md\n");
  assert.ok(!(await list(r.root, e))!.includes("notes.md"));
});
