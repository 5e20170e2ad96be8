import assert from "node:assert/strict";
import { validateNpmPack } from "../lib/node/npm_pack.ts";
import { normalizeName } from "../lib/python/names.ts";
import {
  parseMetadata,
  parseRecord,
  recordHash,
  smokeTestWheel,
  validateSdist,
  validateWheel,
  ValidationError,
  wheelTopLevel,
} from "../lib/python/wheel.ts";
import { baseEnv, tempDir } from "./helpers.ts";

const decoder = new TextDecoder();

async function python(code: string, cwd: string): Promise<void> {
  const out = await new Deno.Command("python3", { args: ["-c", code], cwd, stderr: "piped" })
    .output();
  if (!out.success) throw new Error(decoder.decode(out.stderr));
}

/**
 * Writes demo_pkg-1.2.0-py3-none-any.whl with a correct RECORD, like a build
 * backend would; `tamper` is Python run on `files` (a dict) after RECORD is made.
 */
async function makeWheel(dir: string, tamper = "", requires = ""): Promise<string> {
  await python(
    `import base64, hashlib, zipfile
files = {
  "demo_pkg/__init__.py": b"VALUE = 42\\n",
  "demo_pkg/util.py": b"def f():\\n    return 1\\n",
  "demo_pkg-1.2.0.dist-info/METADATA": b"Metadata-Version: 2.1\\nName: Demo.Pkg\\nVersion: 1.2.0\\n${requires}\\nLong text: here\\n",
  "demo_pkg-1.2.0.dist-info/WHEEL": b"Wheel-Version: 1.0\\nRoot-Is-Purelib: true\\nTag: py3-none-any\\n",
}
def h(b):
  return "sha256=" + base64.urlsafe_b64encode(hashlib.sha256(b).digest()).rstrip(b"=").decode()
record = "".join(f"{n},{h(b)},{len(b)}\\n" for n, b in files.items()) + "demo_pkg-1.2.0.dist-info/RECORD,,\\n"
files["demo_pkg-1.2.0.dist-info/RECORD"] = record.encode()
${tamper}
with zipfile.ZipFile("demo_pkg-1.2.0-py3-none-any.whl", "w", zipfile.ZIP_DEFLATED) as z:
  for n, b in files.items():
    z.writestr(n, b)
`,
    dir,
  );
  return `${dir}/demo_pkg-1.2.0-py3-none-any.whl`;
}

Deno.test("normalizeName follows PEP 503", () => {
  assert.equal(normalizeName("Demo.Pkg"), "demo-pkg");
  assert.equal(normalizeName("authserver_client"), "authserver-client");
  assert.equal(normalizeName("A__b--C"), "a-b-c");
});

Deno.test("recordHash is urlsafe base64 SHA-256 without padding", async () => {
  // hashlib: base64.urlsafe_b64encode(sha256(b"")).rstrip(b"=")
  assert.equal(
    await recordHash(new Uint8Array()),
    "sha256=47DEQpj8HBSa-_TImW-5JCeuQeRkm5NMpJWZG3hSuFU",
  );
});

Deno.test("parseMetadata and parseRecord read headers and quoted CSV", () => {
  const meta = parseMetadata("Name: x\nClassifier: a\nClassifier: b\n\nName: body\n");
  assert.deepEqual(meta.get("Name"), ["x"]);
  assert.deepEqual(meta.get("Classifier"), ["a", "b"]);
  assert.deepEqual(parseRecord('"a,b.py",sha256=x,3\nc,,\n'), [
    { path: "a,b.py", hash: "sha256=x", size: "3" },
    { path: "c", hash: "", size: "" },
  ]);
});

Deno.test("wheelTopLevel finds packages and single modules", () => {
  assert.deepEqual(
    wheelTopLevel(["pkg/__init__.py", "mod.py", "x-1.dist-info/METADATA", "x-1.data/scripts/a"]),
    ["mod", "pkg"],
  );
});

Deno.test("validateWheel accepts a wheel whose RECORD matches every file", async () => {
  await using dir = await tempDir();
  const wheel = await makeWheel(dir.path);
  const report = await validateWheel(wheel, { name: "demo-pkg", version: "1.2.0" });
  assert.equal(report.name, "Demo.Pkg");
  assert.deepEqual(report.topLevel, ["demo_pkg"]);
  assert.equal(report.filesChecked, 4);
});

Deno.test("validateWheel names the file and the hash mismatch of a corrupted wheel", async () => {
  await using dir = await tempDir();
  const wheel = await makeWheel(
    dir.path,
    `files["demo_pkg/util.py"] = b"def f():\\n    return 2\\n"`,
  );
  await assert.rejects(
    () => validateWheel(wheel, { name: "demo-pkg", version: "1.2.0" }),
    (error: unknown) => {
      assert.ok(error instanceof ValidationError);
      assert.match(
        error.message,
        /^Wheel "demo_pkg-1\.2\.0-py3-none-any\.whl" is invalid: RECORD hash mismatch for "demo_pkg\/util\.py": RECORD says "sha256=[\w-]+", file is "sha256=[\w-]+"$/,
      );
      return true;
    },
  );
});

Deno.test("validateWheel reports size mismatches, unlisted files and wrong metadata", async () => {
  await using dir = await tempDir();
  const cases: [string, RegExp, { name: string; version: string }?][] = [
    [
      `files["demo_pkg-1.2.0.dist-info/RECORD"] = files["demo_pkg-1.2.0.dist-info/RECORD"].replace(b",11\\n", b",12\\n")`,
      /RECORD size mismatch for "demo_pkg\/__init__\.py": RECORD says 12, file is 11 bytes/,
    ],
    [`files["demo_pkg/extra.py"] = b""`, /"demo_pkg\/extra\.py" is in the wheel but not in RECORD/],
    [
      `del files["demo_pkg/util.py"]`,
      /RECORD lists "demo_pkg\/util\.py", which is not in the wheel/,
    ],
    ["", /METADATA Version is "1\.2\.0" but pyproject\.toml says "1\.3\.0"/, {
      name: "demo-pkg",
      version: "1.3.0",
    }],
    ["", /METADATA Name is "Demo\.Pkg" but pyproject\.toml says "other"/, {
      name: "other",
      version: "1.2.0",
    }],
  ];
  for (const [tamper, expected, dist] of cases) {
    const wheel = await makeWheel(dir.path, tamper);
    await assert.rejects(
      () => validateWheel(wheel, dist ?? { name: "demo_pkg", version: "1.2.0" }),
      expected,
    );
  }
});

Deno.test("validateWheel rejects a truncated file as not opening", async () => {
  await using dir = await tempDir();
  const wheel = await makeWheel(dir.path);
  const bytes = await Deno.readFile(wheel);
  await Deno.writeFile(wheel, bytes.subarray(0, bytes.length - 40));
  await assert.rejects(
    () => validateWheel(wheel, { name: "demo-pkg", version: "1.2.0" }),
    /Wheel "demo_pkg-1\.2\.0-py3-none-any\.whl" is invalid: Cannot read zip/,
  );
});

Deno.test("validateSdist checks PKG-INFO, pyproject.toml and package sources", async () => {
  await using dir = await tempDir();
  await python(
    `import tarfile, io
def make(name, files):
  with tarfile.open(name, "w:gz") as t:
    for n, b in files.items():
      i = tarfile.TarInfo(n); i.size = len(b); t.addfile(i, io.BytesIO(b))
base = {
  "demo_pkg-1.2.0/PKG-INFO": b"Metadata-Version: 2.1\\nName: demo-pkg\\nVersion: 1.2.0\\n",
  "demo_pkg-1.2.0/pyproject.toml": b"[project]\\n",
  "demo_pkg-1.2.0/src/demo_pkg/__init__.py": b"",
}
make("good.tar.gz", base)
make("nopy.tar.gz", {k: v for k, v in base.items() if not k.endswith("toml")})
`,
    dir.path,
  );
  const expected = { name: "Demo_Pkg", version: "1.2.0", sources: ["demo_pkg/__init__.py"] };
  const report = await validateSdist(dir.join("good.tar.gz"), expected);
  assert.equal(report.root, "demo_pkg-1.2.0");
  await assert.rejects(
    () => validateSdist(dir.join("good.tar.gz"), { ...expected, sources: ["demo_pkg/util.py"] }),
    /Sdist "good\.tar\.gz" is invalid: package source "demo_pkg\/util\.py" is missing/,
  );
  await assert.rejects(
    () => validateSdist(dir.join("nopy.tar.gz"), expected),
    /"demo_pkg-1\.2\.0\/pyproject\.toml" is missing/,
  );
});

Deno.test("smokeTestWheel installs a wheel into a scratch venv and imports it", async () => {
  await using dir = await tempDir();
  const wheel = await makeWheel(dir.path);
  const options = {
    python: "python3",
    venvDir: dir.join("scratch"),
    modules: ["demo_pkg"],
    env: baseEnv(),
    noDeps: true,
  };
  assert.deepEqual(await smokeTestWheel(wheel, options), { imported: ["demo_pkg"] });
  await assert.rejects(
    () => smokeTestWheel(wheel, { ...options, modules: ["demo_pkg.missing"] }),
    /installs but does not import: ModuleNotFoundError/,
  );
  // A dependency that cannot be installed (no index) skips the import instead of failing.
  const needy = await makeWheel(dir.path, "", "Requires-Dist: rig-no-such-package-xyz\\n");
  const result = await smokeTestWheel(needy, {
    ...options,
    noDeps: false,
    env: { ...options.env, PIP_NO_INDEX: "1", PIP_FIND_LINKS: "" },
  });
  assert.deepEqual(result.imported, []);
  assert.match(result.skipped!, /its dependencies could not be installed/);
});

Deno.test("validateNpmPack checks version, entry points and forbidden files", async () => {
  await using dir = await tempDir();
  await python(
    `import tarfile, io, json
def make(name, files):
  with tarfile.open(name, "w:gz") as t:
    for n, b in files.items():
      i = tarfile.TarInfo("package/" + n); i.size = len(b); t.addfile(i, io.BytesIO(b))
pkg = {"name": "@demo/client", "version": "1.0.0", "main": "dist/index.js",
       "types": "dist/index.d.ts", "exports": {".": {"import": "./dist/index.js", "types": "./dist/index.d.ts"}}}
good = {"package.json": json.dumps(pkg).encode(), "dist/index.js": b"", "dist/index.d.ts": b""}
make("good.tgz", good)
make("env.tgz", {**good, ".env": b"SECRET=1"})
make("test.tgz", {**good, "dist/index.test.js": b""})
make("notypes.tgz", {k: v for k, v in good.items() if not k.endswith(".d.ts")})
`,
    dir.path,
  );
  const expected = { name: "@demo/client", version: "1.0.0", rebuild: "rig build --sdk" };
  const report = await validateNpmPack(dir.join("good.tgz"), expected);
  assert.deepEqual(report.entryPoints, ["package/dist/index.js", "package/dist/index.d.ts"]);
  await assert.rejects(
    () => validateNpmPack(dir.join("good.tgz"), { ...expected, version: "2.0.0" }),
    /version is "1\.0\.0", expected "2\.0\.0"/,
  );
  await assert.rejects(
    () => validateNpmPack(dir.join("env.tgz"), expected),
    (error: Error & { hint?: string }) => {
      assert.match(error.message, /"\.env" is an environment file \(secrets\) and must not be/);
      assert.match(error.hint ?? "", /then: rig build --sdk$/);
      return true;
    },
  );
  await assert.rejects(() => validateNpmPack(dir.join("test.tgz"), expected), /is a test file/);
  await assert.rejects(
    () => validateNpmPack(dir.join("notypes.tgz"), expected),
    /entry point "dist\/index\.d\.ts" is not in the tarball/,
  );
});
