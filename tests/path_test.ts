import assert from "node:assert/strict";
import * as node from "node:path";
import * as path from "../lib/path.ts";

/** Every path of up to four parts from a set that covers node's special cases. */
function samples(): string[] {
  const parts = ["", "a", "bb", ".", "..", "...", ".x", "x.", "a.b", "/", "//", "c.d.e", "é"];
  const out = new Set<string>(["", "/", "//", "///", ".", "..", "./", "../"]);
  const grow = (prefix: string, depth: number) => {
    if (depth === 0) return;
    for (const part of parts) {
      for (const glue of ["", "/"]) {
        const next = prefix + glue + part;
        out.add(next);
        grow(next, depth - 1);
      }
    }
  };
  grow("", 3);
  return [...out];
}

const SAMPLES = samples();

Deno.test("lib/path.ts's POSIX functions answer as node:path's for thousands of paths", () => {
  assert.ok(SAMPLES.length > 5000, `${SAMPLES.length} samples`);
  for (const p of SAMPLES) {
    for (const fn of ["normalize", "isAbsolute", "dirname", "basename", "extname"] as const) {
      assert.equal(path.posix[fn](p), node.posix[fn](p), `${fn}(${JSON.stringify(p)})`);
    }
    for (const suffix of [".b", "b", "a.b", ".", p.slice(-2)]) {
      assert.equal(
        path.posix.basename(p, suffix),
        node.posix.basename(p, suffix),
        `basename(${JSON.stringify(p)}, ${JSON.stringify(suffix)})`,
      );
    }
  }
});

Deno.test("join, resolve and relative answer as node:path's for pairs of paths", () => {
  const some = SAMPLES.filter((_, i) => i % 53 === 0);
  for (const a of some) {
    for (const b of some) {
      const show = `(${JSON.stringify(a)}, ${JSON.stringify(b)})`;
      assert.equal(path.posix.join(a, b), node.posix.join(a, b), `join${show}`);
      assert.equal(path.posix.resolve(a, b), node.posix.resolve(a, b), `resolve${show}`);
      assert.equal(path.posix.relative(a, b), node.posix.relative(a, b), `relative${show}`);
    }
  }
  assert.equal(path.posix.join(), node.posix.join());
  assert.equal(path.posix.resolve(), node.posix.resolve());
  assert.equal(path.posix.join("a", "", "b"), "a/b");
});

Deno.test("the host functions follow this OS and win32 gives node's Windows answers", () => {
  assert.equal(path.sep, node.sep);
  assert.equal(path.delimiter, node.delimiter);
  assert.equal(path.join("a", "..", "b", "c"), node.join("a", "..", "b", "c"));
  assert.equal(path.resolve("x"), node.resolve("x"));
  for (const [a, b] of [["C:\\Users\\me", "C:\\Users\\me\\proj"], ["C:\\a", "D:\\b"]]) {
    assert.equal(path.win32.relative(a!, b!), node.win32.relative(a!, b!));
    assert.equal(path.win32.join(a!, "x"), node.win32.join(a!, "x"));
  }
  assert.equal(path.win32.basename("C:\\a\\b.txt", ".txt"), "b");
  assert.equal(path.win32.sep, "\\");
});

Deno.test("a part that is not a string is a TypeError, as in node:path", () => {
  assert.throws(() => path.posix.join("a", 1 as unknown as string), TypeError);
  assert.throws(() => path.posix.dirname(undefined as unknown as string), TypeError);
});

Deno.test("fromFileUrl gives the path a file: URL names, a Windows drive's with backslashes", () => {
  assert.equal(path.fromFileUrl("file:///tmp/a%20b/rig.js"), "/tmp/a b/rig.js");
  assert.equal(
    path.fromFileUrl(new URL("file:///C:/Users/rig/main.ts")),
    "C:\\Users\\rig\\main.ts",
  );
  assert.equal(path.fromFileUrl("https://example.com/rig.js"), undefined);
  assert.equal(path.fromFileUrl("not a url"), undefined);
});

Deno.test("toFileUrl makes the file: URL import() takes, and fromFileUrl reads it back", () => {
  assert.equal(path.toFileUrl("/home/a b/rig#1.js"), "file:///home/a%20b/rig%231.js");
  assert.equal(path.toFileUrl("C:\\Users\\é\\rig.js"), "file:///C:/Users/%C3%A9/rig.js");
  for (const file of ["/tmp/x y/%20.js", "/é/ü?.js", "/a/b"]) {
    assert.equal(path.fromFileUrl(path.toFileUrl(file)), file);
    assert.equal(new URL(path.toFileUrl(file)).href, path.toFileUrl(file));
  }
  assert.equal(path.fromFileUrl(path.toFileUrl("C:\\Users\\x\\rig.js")), "C:\\Users\\x\\rig.js");
});
