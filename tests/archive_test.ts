import assert from "node:assert/strict";
import { ArchiveError, crc32, openArchive, readAll, readTarGz, readZip } from "../lib/archive.ts";
import { tempDir } from "./helpers.ts";

const decoder = new TextDecoder();

/** Runs a Python snippet (the real zipfile/tarfile modules make the fixtures). */
async function python(code: string, cwd: string): Promise<void> {
  const out = await new Deno.Command("python3", { args: ["-c", code], cwd, stderr: "piped" })
    .output();
  if (!out.success) throw new Error(decoder.decode(out.stderr));
}

Deno.test("readZip reads stored and deflated entries written by Python's zipfile", async () => {
  await using dir = await tempDir();
  await python(
    `import zipfile
with zipfile.ZipFile("a.zip", "w") as z:
    z.writestr("pkg/", "")
    z.writestr("pkg/stored.txt", "plain text", compress_type=zipfile.ZIP_STORED)
    z.writestr("pkg/deflated.txt", "hello " * 1000, compress_type=zipfile.ZIP_DEFLATED)
    z.writestr("empty.txt", "", compress_type=zipfile.ZIP_DEFLATED)
`,
    dir.path,
  );
  const entries = await openArchive(dir.join("a.zip"));
  assert.deepEqual(entries.map((e) => e.name), ["pkg/stored.txt", "pkg/deflated.txt", "empty.txt"]);
  const all = await readAll(entries);
  assert.equal(decoder.decode(all.get("pkg/stored.txt")), "plain text");
  assert.equal(decoder.decode(all.get("pkg/deflated.txt")), "hello ".repeat(1000));
  assert.equal(all.get("empty.txt")!.length, 0);
});

Deno.test("readZip rejects a file that is not a zip with a clear message", () => {
  assert.throws(
    () => readZip(new TextEncoder().encode("not a zip at all".repeat(10)), "bad.whl"),
    (error: unknown) =>
      error instanceof ArchiveError && /Cannot read zip "bad\.whl": no end of central directory/
        .test(error.message),
  );
});

Deno.test("readZip reports an entry whose bytes were changed as failing its CRC", async () => {
  await using dir = await tempDir();
  await python(
    `import zipfile
with zipfile.ZipFile("a.zip", "w") as z:
    z.writestr("data.txt", "AAAAAAAAAA", compress_type=zipfile.ZIP_STORED)
`,
    dir.path,
  );
  const bytes = await Deno.readFile(dir.join("a.zip"));
  const at = bytes.indexOf(0x41);
  bytes[at] = 0x42;
  const [entry] = readZip(bytes, "a.zip");
  await assert.rejects(() => entry!.read(), /"data\.txt" fails its CRC-32 check/);
});

Deno.test("readTarGz reads ustar, long pax names and skips folders and links", async () => {
  await using dir = await tempDir();
  const long = "d/" + "x".repeat(150) + "/file.txt";
  await python(
    `import tarfile, io
def add(t, name, data):
    info = tarfile.TarInfo(name); info.size = len(data); t.addfile(info, io.BytesIO(data))
with tarfile.open("p.tar.gz", "w:gz", format=tarfile.PAX_FORMAT) as t:
    d = tarfile.TarInfo("top"); d.type = tarfile.DIRTYPE; t.addfile(d)
    add(t, "top/a.txt", b"alpha")
    add(t, "${long}", b"long name")
    l = tarfile.TarInfo("top/link"); l.type = tarfile.SYMTYPE; l.linkname = "a.txt"; t.addfile(l)
with tarfile.open("g.tar.gz", "w:gz", format=tarfile.GNU_FORMAT) as t:
    add(t, "${long}", b"gnu")
`,
    dir.path,
  );
  const pax = await readAll(await openArchive(dir.join("p.tar.gz")));
  assert.deepEqual([...pax.keys()], ["top/a.txt", long]);
  assert.equal(decoder.decode(pax.get(long)), "long name");
  const gnu = await readAll(await openArchive(dir.join("g.tar.gz")));
  assert.equal(decoder.decode(gnu.get(long)), "gnu");
});

Deno.test("readTarGz rejects data that is not gzip", async () => {
  await assert.rejects(
    () => readTarGz(new TextEncoder().encode("plain"), "x.tar.gz"),
    /Cannot read tar\.gz "x\.tar\.gz": it does not decompress/,
  );
});

Deno.test("crc32 matches the standard check value", () => {
  assert.equal(crc32(new TextEncoder().encode("123456789")), 0xcbf43926);
});
