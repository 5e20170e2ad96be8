/**
 * A local base image for image tests, made rather than pulled (no Docker Hub
 * here): debootstrap a minimal Debian with python3 and python3-venv, keep its
 * tarball in the user cache keyed by the package list, and `podman import` it
 * as `localhost/rig-test-base:<key>`. Made once per machine; later test runs
 * reuse the image or the tarball. The image trusts the certificate
 * authorities this machine added (/usr/local/share/ca-certificates), so pip
 * in a RUN step reaches PyPI through the same TLS proxy the host uses.
 */
import * as path from "node:path";
import { sha256Hex } from "../lib/hash.ts";

const SUITE = "bookworm";
const MIRROR = "http://deb.debian.org/debian";
const PACKAGES = ["python3", "python3-venv", "ca-certificates"];

/** Why image tests cannot run here, or undefined when they can. */
export function imageTestsUnavailable(): string | undefined {
  if (Deno.build.os !== "linux") return "image tests need Linux (podman, debootstrap, chroot)";
  if (Deno.uid() !== 0) return "image tests need root (podman storage, chroot checks)";
  for (const tool of ["podman", "debootstrap", "docker-registry"]) {
    if (!onPath(tool)) {
      return `${tool} is not installed (apt-get install podman debootstrap docker-registry)`;
    }
  }
  const info = new Deno.Command("podman", { args: ["info"], stdout: "null", stderr: "null" })
    .outputSync();
  if (!info.success) return "podman is installed but does not answer (podman info failed)";
  return undefined;
}

function onPath(tool: string): boolean {
  for (const dir of (Deno.env.get("PATH") ?? "").split(":")) {
    try {
      if (Deno.statSync(path.join(dir, tool)).isFile) return true;
    } catch {
      // Not in this folder.
    }
  }
  return false;
}

async function sh(args: string[], options: { stdin?: string } = {}): Promise<string> {
  const child = new Deno.Command(args[0]!, {
    args: args.slice(1),
    stdin: options.stdin ? "piped" : "null",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  if (options.stdin) {
    const writer = child.stdin.getWriter();
    await writer.write(new TextEncoder().encode(options.stdin));
    await writer.close();
  }
  const out = await child.output();
  const text = new TextDecoder().decode(out.stdout);
  if (!out.success) {
    throw new Error(
      `${args.join(" ")} failed: ${new TextDecoder().decode(out.stderr).slice(-2000)}`,
    );
  }
  return text;
}

function cacheRoot(): string {
  const base = Deno.env.get("XDG_CACHE_HOME") ??
    path.join(Deno.env.get("HOME") ?? "/tmp", ".cache");
  return path.join(base, "rig-test");
}

const LOCAL_CAS = "/usr/local/share/ca-certificates";

async function localCertificates(): Promise<{ name: string; text: string }[]> {
  const out: { name: string; text: string }[] = [];
  try {
    for await (const entry of Deno.readDir(LOCAL_CAS)) {
      if (entry.isFile && entry.name.endsWith(".crt")) {
        out.push({
          name: entry.name,
          text: await Deno.readTextFile(path.join(LOCAL_CAS, entry.name)),
        });
      }
    }
  } catch {
    // No local authorities on this machine.
  }
  return out.sort((a, b) => a.name.localeCompare(b.name));
}

/** Makes (or reuses) the base image and returns its reference. */
export async function ensureTestBaseImage(): Promise<string> {
  const cas = await localCertificates();
  const key = (await sha256Hex(
    `${SUITE}\0${PACKAGES.join(",")}\0minbase-v2\0${
      cas.map((c) => `${c.name}\0${c.text}`).join("\0")
    }`,
  )).slice(0, 12);
  const ref = `localhost/rig-test-base:${key}`;
  const exists = await new Deno.Command("podman", {
    args: ["image", "exists", ref],
  }).output();
  if (exists.success) return ref;
  const dir = cacheRoot();
  await Deno.mkdir(dir, { recursive: true });
  const tarball = path.join(dir, `debian-${SUITE}-${key}.tar`);
  try {
    await Deno.stat(tarball);
  } catch {
    const rootfs = await Deno.makeTempDir({ dir, prefix: "rootfs-" });
    try {
      await sh([
        "debootstrap",
        "--variant=minbase",
        `--include=${PACKAGES.join(",")}`,
        SUITE,
        rootfs,
        MIRROR,
      ]);
      for (const ca of cas) {
        await Deno.writeTextFile(path.join(rootfs, LOCAL_CAS.slice(1), ca.name), ca.text);
      }
      if (cas.length) await sh(["chroot", rootfs, "update-ca-certificates"]);
      // Smaller and deterministic enough: no apt lists or caches in the image.
      await sh(["sh", "-c", `rm -rf "${rootfs}"/var/lib/apt/lists/* "${rootfs}"/var/cache/apt/*`]);
      const partial = `${tarball}.partial`;
      await sh(["tar", "-C", rootfs, "-cf", partial, "."]);
      await Deno.rename(partial, tarball);
    } finally {
      await Deno.remove(rootfs, { recursive: true }).catch(() => {});
    }
  }
  await sh([
    "podman",
    "import",
    "--change",
    'CMD ["/bin/bash"]',
    tarball,
    ref,
  ]);
  return ref;
}

/** A CNCF distribution registry (Debian's docker-registry) on a free loopback port. */
export async function startRegistry(): Promise<
  { address: string; [Symbol.asyncDispose](): Promise<void> }
> {
  const dir = await Deno.makeTempDir({ prefix: "rig-registry-" });
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (listener.addr as Deno.NetAddr).port;
  listener.close();
  const config = path.join(dir, "config.yml");
  await Deno.writeTextFile(
    config,
    [
      "version: 0.1",
      "log:",
      "  level: error",
      "storage:",
      "  filesystem:",
      `    rootdirectory: ${path.join(dir, "data")}`,
      "http:",
      `  addr: 127.0.0.1:${port}`,
      "",
    ].join("\n"),
  );
  const child = new Deno.Command("docker-registry", {
    args: ["serve", config],
    stdout: "null",
    stderr: "null",
  }).spawn();
  const address = `127.0.0.1:${port}`;
  const deadline = Date.now() + 15_000;
  for (;;) {
    try {
      const response = await fetch(`http://${address}/v2/`);
      await response.body?.cancel();
      if (response.ok) break;
    } catch {
      // Not listening yet.
    }
    if (Date.now() > deadline) {
      child.kill("SIGKILL");
      await child.status;
      throw new Error("docker-registry did not start within 15 s");
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  return {
    address,
    async [Symbol.asyncDispose]() {
      try {
        child.kill("SIGTERM");
      } catch {
        // Already gone.
      }
      await child.status;
      await Deno.remove(dir, { recursive: true }).catch(() => {});
    },
  };
}
