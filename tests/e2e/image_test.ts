// rig build --docker for real: podman builds the reference server on a base
// image the tests make with debootstrap, rig checks the image, reuses it while
// nothing changed, and pushes it to a local registry.
import assert from "node:assert/strict";
import * as path from "node:path";
import {
  copyReferenceProject,
  git,
  gitRepository,
  rigInProcess,
  tempDir,
  testWithProcesses,
} from "../helpers.ts";
import { ensureTestBaseImage, imageTestsUnavailable, startRegistry } from "../image_base.ts";

const unavailable = imageTestsUnavailable();
if (unavailable) console.log(`image tests are ignored: ${unavailable}`);

interface ImageJson {
  ok: boolean;
  components: {
    name: string;
    status: string;
    checks: string[];
    artifacts: {
      type: string;
      tags?: string[];
      imageId?: string;
      pushed?: { ref: string; digest: string }[];
    }[];
  }[];
}

async function podman(...args: string[]): Promise<{ ok: boolean; out: string; err: string }> {
  const out = await new Deno.Command("podman", { args, stdout: "piped", stderr: "piped" })
    .output();
  const decode = (b: Uint8Array) => new TextDecoder().decode(b);
  return { ok: out.success, out: decode(out.stdout), err: decode(out.stderr) };
}

const PLANTED = "planted-Secret-Value-9f3a2b71";

testWithProcesses({
  name:
    "rig build --docker builds, checks, reuses and pushes the reference server's image on a local base",
  ignore: unavailable !== undefined,
  async fn(t) {
    const base = await ensureTestBaseImage();
    await using dir = await tempDir("rig-image-");
    const root = await copyReferenceProject(dir.join("authserver"));
    await Deno.writeTextFile(path.join(root, "server/.env"), `SECRET_KEY=${PLANTED}\n`);
    await gitRepository(root);
    const sha = (await git(root, "rev-parse", "--short", "HEAD")).trim();
    const build = async (...args: string[]) => {
      const out = await rigInProcess(
        ["--json", "build", "--server", "--skip-tests", "--docker", "--base-image", base, ...args],
        { cwd: root },
      );
      const doc = out.stdout ? JSON.parse(out.stdout) as ImageJson : undefined;
      const server = doc?.components?.find((c) => c.name === "server");
      const image = server?.artifacts.find((a) => a.type === "docker-image");
      return { ...out, doc, server, image };
    };
    const removeTags = () =>
      podman("rmi", "-f", "authserver:0.1.0", `authserver:${sha}`, "authserver:latest");

    try {
      let firstId = "";
      await t.step("a first build makes a tagged, labelled image and checks it", async () => {
        const { code, stderr, server, image } = await build();
        assert.equal(code, 0, stderr);
        assert.equal(server!.status, "built");
        assert.deepEqual(image!.tags, [
          "authserver:0.1.0",
          `authserver:${sha}`,
          "authserver:latest",
        ]);
        firstId = image!.imageId!;
        assert.match(firstId, /^[0-9a-f]{64}$/);
        const checks = server!.checks.join("\n");
        assert.match(checks, /starts uvicorn app\.main:app on port 8000/);
        assert.match(checks, /runs as user appuser/);
        assert.match(checks, /imports app\.main/);
        assert.match(checks, /no \.env, \.git or secret in its \d+ own layer\(s\)/);

        const inspect = JSON.parse((await podman("image", "inspect", "authserver:latest")).out)[0];
        const labels = inspect.Config.Labels;
        assert.equal(labels["org.opencontainers.image.version"], "0.1.0");
        assert.equal(labels["org.opencontainers.image.revision"], sha);
        assert.match(labels["org.opencontainers.image.created"], /^\d{4}-\d\d-\d\dT/);
        assert.equal(inspect.Config.User, "appuser");
        for (const tag of ["authserver:0.1.0", `authserver:${sha}`]) {
          const id = (await podman("image", "inspect", "--format", "{{.Id}}", tag)).out.trim();
          assert.equal(id, firstId, tag);
        }

        const mount = await podman("image", "mount", firstId);
        assert.ok(mount.ok, mount.err);
        try {
          const fs = mount.out.trim();
          assert.ok((await Deno.stat(path.join(fs, "app/app/main.py"))).isFile);
          await assert.rejects(() => Deno.stat(path.join(fs, "app/.env")));
          await assert.rejects(() => Deno.stat(path.join(fs, "app/tests")));
        } finally {
          await podman("image", "unmount", firstId);
        }
        const manifest = JSON.parse(await Deno.readTextFile(path.join(root, "dist/manifest.json")));
        const entry = manifest.artifacts.find((a: { type: string }) => a.type === "docker-image");
        assert.equal(entry.imageId, firstId);
      });

      await t.step("an unchanged second build reuses the image and reports it cached", async () => {
        // Untag it (a second tag keeps the image itself): the reused image gets its tags back.
        await podman("tag", firstId, "keep-alive-for-test:1");
        await removeTags();
        const { code, stderr, server, image } = await build();
        assert.equal(code, 0, stderr);
        assert.equal(server!.status, "cached");
        assert.equal(image!.imageId, firstId);
        const tagged = await podman("image", "inspect", "--format", "{{.Id}}", "authserver:latest");
        assert.equal(tagged.out.trim(), firstId, "the tags are put back on the reused image");
        await podman("rmi", "keep-alive-for-test:1");
      });

      await t.step(
        "--push sends every tag to a registry and reads each manifest back",
        async () => {
          await using registry = await startRegistry();
          const { code, stderr, image } = await build("--push", registry.address);
          assert.equal(code, 0, stderr);
          assert.deepEqual(
            image!.pushed!.map((p) => p.ref),
            [
              `${registry.address}/authserver:0.1.0`,
              `${registry.address}/authserver:${sha}`,
              `${registry.address}/authserver:latest`,
            ],
          );
          const digests = new Set<string>();
          for (const tag of ["0.1.0", sha, "latest"]) {
            const response = await fetch(
              `http://${registry.address}/v2/authserver/manifests/${tag}`,
              {
                headers: { Accept: "application/vnd.oci.image.manifest.v1+json" },
              },
            );
            assert.equal(response.status, 200, tag);
            const manifest = await response.json();
            assert.ok(manifest.layers.length > 0);
            digests.add(response.headers.get("docker-content-digest")!);
          }
          assert.equal(digests.size, 1, "every tag names the same manifest");
          assert.ok(image!.pushed!.every((p) => digests.has(p.digest)));
        },
      );

      await t.step(
        "an image with a secret, a .env file or a root user fails its checks",
        async () => {
          const dockerfile = path.join(root, "server/Dockerfile");
          const original = await Deno.readTextFile(dockerfile);
          await Deno.writeTextFile(path.join(root, "server/leaked.txt"), `key=${PLANTED}\n`);
          await Deno.writeTextFile(
            dockerfile,
            original.replace(
              "USER appuser",
              'COPY leaked.txt /app/leaked.txt\nRUN echo "DEBUG=1" > /app/.env\nUSER root',
            ),
          );
          try {
            const { code, stderr } = await build();
            assert.equal(code, 1, stderr);
            assert.match(stderr, /error: Image [0-9a-f]{12} is invalid:/);
            assert.match(stderr, /runs as root \(add a USER instruction\)/);
            assert.match(stderr, /contains "\/app\/\.env"/);
            assert.match(stderr, /"\/app\/leaked\.txt" contains a secret value of the project/);
            assert.ok(!stderr.includes(PLANTED), "the secret itself is never printed");
          } finally {
            await Deno.writeTextFile(dockerfile, original);
            await Deno.remove(path.join(root, "server/leaked.txt"));
          }
        },
      );

      await t.step(
        "a base image that is neither present nor pullable is exit 3 with the fix",
        async () => {
          const out = await rigInProcess(
            [
              "build",
              "--server",
              "--skip-tests",
              "--docker",
              "--base-image",
              "localhost/absent-base:1",
            ],
            { cwd: root },
          );
          assert.equal(out.code, 3, out.stderr);
          assert.match(out.stderr, /Cannot get the base image "localhost\/absent-base:1"/);
          assert.match(out.stderr, /hint: .*base_image = "IMAGE"/);
        },
      );
    } finally {
      await removeTags();
    }
  },
});
