/**
 * Which container engine answers: docker, else podman (or the one
 * RIG_CONTAINER_ENGINE names). Shared by rig build and rig doctor; a client
 * whose engine is down is reported as such, never as a working engine.
 */
import { run, which } from "./proc.ts";

/** A container engine that answered. */
export interface Engine {
  name: "docker" | "podman";
  /** Absolute path of the client program. */
  program: string;
  /** The engine (server) version. */
  version: string;
  /** Extra `build` arguments this engine needs here. */
  buildArgs: string[];
}

/** The outcome of looking for an engine. */
export interface EngineProbe {
  engine?: Engine;
  /** Why no engine can be used, when none can. */
  problem?: string;
  /** How to get one. */
  hint: string;
}

/** The hint printed when no engine answers. */
export const START_ENGINE_HINT =
  "Start Docker Desktop or run: sudo systemctl start docker (Podman works too), then: rig build --docker";

/**
 * Looks for a container engine that answers: `docker info`, else `podman
 * info`; `RIG_CONTAINER_ENGINE=docker|podman` in `env` tries only that one.
 */
export async function detectEngine(
  env: Record<string, string>,
  options: { timeoutMs?: number; signal?: AbortSignal } = {},
): Promise<EngineProbe> {
  const timeoutMs = options.timeoutMs ?? 5000;
  const problems: string[] = [];
  const chosen = env.RIG_CONTAINER_ENGINE?.trim();
  if (chosen && chosen !== "docker" && chosen !== "podman") {
    return {
      problem: `RIG_CONTAINER_ENGINE is "${chosen}", which is neither "docker" nor "podman"`,
      hint: "Set RIG_CONTAINER_ENGINE=docker or RIG_CONTAINER_ENGINE=podman, or unset it",
    };
  }
  const names = chosen ? [chosen as "docker" | "podman"] : (["docker", "podman"] as const);
  for (const name of names) {
    const program = which(name, env);
    if (!program) continue;
    const format = name === "docker" ? "{{.ServerVersion}}" : "{{.Version.Version}}";
    const result = await run([program, "info", "--format", format], {
      env,
      timeoutMs,
      signal: options.signal,
    });
    const version = result.stdout.trim();
    if (result.success && version && !version.includes("<no value>")) {
      return {
        engine: {
          name,
          program,
          version,
          // Rootless podman without user namespaces can still build this way.
          buildArgs: name === "podman" ? ["--isolation", "chroot"] : [],
        },
        hint: "",
      };
    }
    const why = result.timedOut
      ? `did not answer within ${timeoutMs}ms`
      : firstMeaningfulLine(result.stderr || result.stdout);
    problems.push(`${name} is installed but its engine is not running (${why})`);
  }
  return {
    problem: problems.length
      ? `No container engine answers: ${problems.join("; ")}`
      : "No container engine found: neither docker nor podman is on PATH",
    hint: problems.length
      ? START_ENGINE_HINT
      : "Install Docker (https://docs.docker.com/get-docker/) or Podman, then: rig build --docker",
  };
}

/** The line of an engine's output that says what is wrong. */
export function firstMeaningfulLine(text: string): string {
  const lines = text.split("\n").map((l) => l.trim()).filter(Boolean);
  return lines.find((l) => /cannot|error|denied|refused/i.test(l)) ?? lines[0] ??
    "no answer";
}
