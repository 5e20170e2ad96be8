import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { Sha256, sha256Sync } from "../lib/sha256.ts";
import { nodeSha256, portableHash } from "../lib/hash.ts";

Deno.test("sha256Sync matches the FIPS 180-4 test vectors", () => {
  assert.equal(sha256Sync(""), "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  assert.equal(
    sha256Sync("abc"),
    "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad",
  );
  assert.equal(
    sha256Sync("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq"),
    "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1",
  );
  assert.equal(
    sha256Sync("a".repeat(1_000_000)),
    "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0",
  );
});

Deno.test("Sha256 fed in pieces of every size agrees with node:crypto", () => {
  const data = new Uint8Array(4099);
  for (let i = 0; i < data.length; i++) data[i] = (i * 7919) % 251;
  for (const length of [0, 1, 55, 56, 63, 64, 65, 119, 120, 128, 1000, 4099]) {
    const slice = data.subarray(0, length);
    const expected = createHash("sha256").update(slice).digest("hex");
    for (const piece of [1, 3, 64, 100, 5000]) {
      const hash = new Sha256();
      for (let at = 0; at < length; at += piece) hash.update(slice.subarray(at, at + piece));
      assert.equal(hash.digestHex(), expected, `length ${length}, pieces of ${piece}`);
    }
  }
  const text = "päth\0ünïcode ✓ 漢字\0";
  assert.equal(sha256Sync(text), createHash("sha256").update(text).digest("hex"));
});

Deno.test("the portable hash answers like node:crypto's for what rig feeds it", () => {
  const data = new TextEncoder().encode("line one\r\nline two\n".repeat(1000));
  const portable = portableHash().update(data.subarray(0, 7)).update(data.subarray(7)).digest(
    "hex",
  );
  assert.equal(portable, createHash("sha256").update(data).digest("hex"));
  assert.equal(nodeSha256().update(data).digest("hex"), portable);
});
