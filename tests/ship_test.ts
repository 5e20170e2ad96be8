import assert from "node:assert/strict";
import { formatSha256Sums, parseSha256Sums, writeSha256Sums } from "../lib/ship/checksums.ts";
import {
  compareVersions,
  noticePending,
  olderCommittedRigNotice,
} from "../lib/ship/launcher_notice.ts";
import { readZip, writeZip } from "../lib/archive.ts";
import { tempDir, tempDirWith } from "./helpers.ts";

Deno.test("SHA256SUMS files are what sha256sum -c checks, and read back", async () => {
  await using dir = await tempDirWith({ "rig-a": "one", "rig-b.exe": "two" });
  const entries = await writeSha256Sums(dir.path, ["rig-b.exe", "rig-a", "missing"]);
  assert.deepEqual(entries.map(([name]) => name), ["rig-a", "rig-b.exe"]);
  const check = await new Deno.Command("sha256sum", {
    args: ["-c", "SHA256SUMS"],
    cwd: dir.path,
    stdout: "piped",
    stderr: "piped",
  }).output();
  assert.ok(check.success, new TextDecoder().decode(check.stderr));
  const text = await Deno.readTextFile(dir.join("SHA256SUMS"));
  assert.equal(formatSha256Sums([...parseSha256Sums(text)]), text);
  assert.equal(parseSha256Sums(`${"a".repeat(64)} *bin/x\n`).get("bin/x"), "a".repeat(64));
});

Deno.test("compareVersions orders releases numerically and pre-releases first", () => {
  assert.equal(compareVersions("0.10.0", "0.9.1"), 1);
  assert.equal(compareVersions("0.1.0", "0.1.0"), 0);
  assert.equal(compareVersions("0.1", "0.1.0"), 0);
  assert.equal(compareVersions("1.0.0-rc.1", "1.0.0"), -1);
  assert.equal(compareVersions("0.0.1", "0.1.0"), -1);
});

Deno.test("writeZip output is read back by readZip and by Python's zipfile, byte for byte", async () => {
  await using dir = await tempDir();
  const files = [
    { name: "pkg/__init__.py", data: new TextEncoder().encode("x = 1\n".repeat(500)) },
    { name: "pkg/run.sh", data: new TextEncoder().encode("#!/bin/sh\n"), mode: 0o755 },
    { name: "empty.txt", data: new Uint8Array() },
  ];
  const zip = await writeZip(files);
  assert.deepEqual(await writeZip(files), zip, "reproducible");
  const entries = readZip(zip, "test.zip");
  assert.deepEqual(entries.map((e) => e.name), files.map((f) => f.name));
  for (const [i, entry] of entries.entries()) assert.deepEqual(await entry.read(), files[i]!.data);
  await Deno.writeFile(dir.join("test.zip"), zip);
  const py = await new Deno.Command("python3", {
    args: [
      "-c",
      "import sys, zipfile; z = zipfile.ZipFile(sys.argv[1]); assert z.testzip() is None; " +
      "print(oct(z.getinfo('pkg/run.sh').external_attr >> 16 & 0o777), len(z.read('pkg/__init__.py')))",
      dir.join("test.zip"),
    ],
    stdout: "piped",
    stderr: "piped",
  }).output();
  assert.ok(py.success, new TextDecoder().decode(py.stderr));
  assert.equal(new TextDecoder().decode(py.stdout), "0o755 3000\n");
});

Deno.test("the older-rig notice finds the committed rig up to the repository's root, not above it", async () => {
  await using dir = await tempDirWith({
    "outer/.rig-tool/version": "0.0.1\n",
    "outer/repo/.git/HEAD": "ref: refs/heads/main\n",
    "outer/repo/app/src/.keep": "",
    "inner/.rig-tool/version": "0.0.2\n",
    "inner/app/src/.keep": "",
  });
  const opts = { version: "9.0.0", stateFile: dir.join("state", "notices.json") };
  assert.equal(noticePending(dir.join("outer/repo/app/src"), opts), false, "above .git");
  assert.equal(noticePending(dir.join("inner/app/src"), opts), true);
  const notice = await olderCommittedRigNotice(dir.join("inner/app/src"), opts);
  assert.match(
    notice!.message,
    /committed rig \(\.rig-tool\) is rig 0\.0\.2, older than the rig running \(9\.0\.0\)/,
  );
  assert.equal(noticePending(dir.join("inner/app/src"), opts), false, "said once");
  assert.equal(await olderCommittedRigNotice(dir.join("inner"), opts), undefined);
});
