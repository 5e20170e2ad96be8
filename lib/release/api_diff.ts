/**
 * Compares two OpenAPI documents the way a client sees them: a removed path,
 * operation, parameter or response field, or a new required request field or
 * parameter, breaks clients; new paths, operations, response fields and
 * optional request fields are additions. The result is the smallest semver
 * bump the API change needs.
 */

/** How much a change matters to clients. */
export type ChangeLevel = "breaking" | "addition";

/** One difference between two API documents. */
export interface ApiChange {
  level: ChangeLevel;
  /** E.g. `GET /users/me response 200: field "email" removed`. */
  description: string;
}

/** The bump levels, smallest first. */
export type BumpLevel = "none" | "patch" | "minor" | "major";

const LEVELS: BumpLevel[] = ["none", "patch", "minor", "major"];

type Json = Record<string, unknown>;

const METHODS = ["get", "put", "post", "delete", "options", "head", "patch", "trace"];

/** The differences between an old and a new OpenAPI document, breaking ones first. */
export function diffOpenApi(before: Json, after: Json): ApiChange[] {
  const changes: ApiChange[] = [];
  const oldPaths = (before.paths ?? {}) as Record<string, Json>;
  const newPaths = (after.paths ?? {}) as Record<string, Json>;
  for (const [route, oldItem] of Object.entries(oldPaths).sort()) {
    const newItem = newPaths[route];
    if (!newItem) {
      changes.push({ level: "breaking", description: `path ${route} removed` });
      continue;
    }
    for (const method of METHODS) {
      const oldOp = oldItem[method] as Json | undefined;
      const newOp = newItem[method] as Json | undefined;
      const label = `${method.toUpperCase()} ${route}`;
      if (oldOp && !newOp) {
        changes.push({ level: "breaking", description: `operation ${label} removed` });
      } else if (!oldOp && newOp) {
        changes.push({ level: "addition", description: `operation ${label} added` });
      } else if (oldOp && newOp) {
        compareOperation(label, oldOp, newOp, { before, after }, changes);
      }
    }
  }
  for (const route of Object.keys(newPaths).sort()) {
    if (!oldPaths[route]) changes.push({ level: "addition", description: `path ${route} added` });
  }
  return [
    ...changes.filter((c) => c.level === "breaking"),
    ...changes.filter((c) => c.level === "addition"),
  ];
}

interface Docs {
  before: Json;
  after: Json;
}

function compareOperation(label: string, oldOp: Json, newOp: Json, docs: Docs, out: ApiChange[]) {
  // Parameters (query, path, header, cookie), keyed by location and name.
  const params = (op: Json, doc: Json) =>
    new Map(
      ((op.parameters ?? []) as Json[]).map((p) => resolve(p, doc)).map((
        p,
      ) => [`${p.in} parameter "${p.name}"`, p]),
    );
  const oldParams = params(oldOp, docs.before);
  const newParams = params(newOp, docs.after);
  for (const [key, p] of newParams) {
    const was = oldParams.get(key);
    if (p.required && !was?.required) {
      out.push({
        level: "breaking",
        description: `${label}: ${was ? "" : "new "}required ${key}${
          was ? " is now required" : ""
        }`,
      });
    } else if (!was) {
      out.push({ level: "addition", description: `${label}: optional ${key} added` });
    }
  }
  for (const key of oldParams.keys()) {
    if (!newParams.has(key)) {
      out.push({ level: "breaking", description: `${label}: ${key} removed` });
    }
  }
  // Request body: a new required field breaks clients that do not send it.
  const oldBody = jsonSchema(oldOp.requestBody, docs.before);
  const newBody = jsonSchema(newOp.requestBody, docs.after);
  if (newBody) {
    if (!oldBody && (resolve(newOp.requestBody as Json, docs.after).required)) {
      out.push({ level: "breaking", description: `${label}: request body is now required` });
    } else {
      compareRequest(walk(`${label} request`, docs, out), oldBody ?? {}, newBody, "");
    }
  }
  // Responses: a removed field breaks clients that read it.
  const oldResponses = (oldOp.responses ?? {}) as Json;
  const newResponses = (newOp.responses ?? {}) as Json;
  for (const [status, oldResponse] of Object.entries(oldResponses)) {
    const newResponse = newResponses[status];
    if (newResponse === undefined) {
      if (/^2/.test(status)) {
        out.push({ level: "breaking", description: `${label}: response ${status} removed` });
      }
      continue;
    }
    const before = jsonSchema(oldResponse, docs.before);
    const after = jsonSchema(newResponse, docs.after);
    if (before && after) {
      compareResponse(walk(`${label} response ${status}`, docs, out), before, after, "");
    }
  }
  for (const status of Object.keys(newResponses)) {
    if (oldResponses[status] === undefined) {
      out.push({ level: "addition", description: `${label}: response ${status} added` });
    }
  }
}

/** One body walk: the label its changes carry, both documents, and the places already compared. */
interface Walk {
  label: string;
  docs: Docs;
  out: ApiChange[];
  seen: Set<string>;
}

function walk(label: string, docs: Docs, out: ApiChange[]): Walk {
  return { label, docs, out, seen: new Set() };
}

/** Both schemas' shapes at `prefix`, or undefined when this place was compared or is too deep. */
function shapesAt(w: Walk, before: Json, after: Json, prefix: string) {
  const key = `${w.label}|${prefix}`;
  if (w.seen.has(key) || prefix.split(".").length > 12) return undefined;
  w.seen.add(key);
  return { oldShape: shape(before, w.docs.before), newShape: shape(after, w.docs.after) };
}

type Shape = ReturnType<typeof shape>;

/**
 * Each property of the `from` shape with its dotted field path below `prefix`
 * and the `other` shape's property of that name (undefined when it has none).
 */
function* fieldsOf(from: Shape, other: Shape, prefix: string) {
  for (const [name, prop] of from.properties) {
    yield {
      name,
      field: prefix ? `${prefix}.${name}` : name,
      prop,
      otherProp: other.properties.get(name),
    };
  }
}

function compareResponse(w: Walk, before: Json, after: Json, prefix: string) {
  const shapes = shapesAt(w, before, after, prefix);
  if (!shapes) return;
  const { oldShape, newShape } = shapes;
  const { label, out } = w;
  for (const { field, prop: oldProp, otherProp: newProp } of fieldsOf(oldShape, newShape, prefix)) {
    if (!newProp) {
      out.push({ level: "breaking", description: `${label}: field "${field}" removed` });
      continue;
    }
    compareResponse(w, oldProp, newProp, field);
  }
  for (const { field, otherProp: oldProp } of fieldsOf(newShape, oldShape, prefix)) {
    if (!oldProp) {
      out.push({ level: "addition", description: `${label}: field "${field}" added` });
    }
  }
  if (oldShape.items && newShape.items) {
    compareResponse(w, oldShape.items, newShape.items, `${prefix}[]`);
  }
}

function compareRequest(w: Walk, before: Json, after: Json, prefix: string) {
  const shapes = shapesAt(w, before, after, prefix);
  if (!shapes) return;
  const { oldShape, newShape } = shapes;
  const { label, out } = w;
  for (
    const { name, field, prop: newProp, otherProp: oldProp } of fieldsOf(newShape, oldShape, prefix)
  ) {
    const required = newShape.required.has(name);
    if (required && !(oldProp && oldShape.required.has(name))) {
      out.push({
        level: "breaking",
        description: `${label}: ${
          oldProp ? `field "${field}" is now required` : `new required field "${field}"`
        }`,
      });
    } else if (!oldProp) {
      out.push({ level: "addition", description: `${label}: optional field "${field}" added` });
    }
    if (oldProp) compareRequest(w, oldProp, newProp, field);
  }
}

/** A schema's object properties, required names and array items, through $ref and compositions. */
function shape(schema: Json, doc: Json, depth = 0) {
  const properties = new Map<string, Json>();
  const required = new Set<string>();
  let items: Json | undefined;
  const visit = (s: Json, d: number, optional: boolean) => {
    if (d > 20) return;
    const r = resolve(s, doc);
    for (const [name, prop] of Object.entries((r.properties ?? {}) as Record<string, Json>)) {
      if (!properties.has(name)) properties.set(name, prop);
    }
    if (!optional) { for (const name of (r.required ?? []) as string[]) required.add(name); }
    if (r.items && typeof r.items === "object") items ??= r.items as Json;
    for (const part of (r.allOf ?? []) as Json[]) visit(part, d + 1, optional);
    // anyOf/oneOf (FastAPI's Optional[...] is anyOf [X, null]): any member's fields may appear.
    for (const part of [...(r.anyOf ?? []) as Json[], ...(r.oneOf ?? []) as Json[]]) {
      visit(part, d + 1, true);
    }
  };
  visit(schema, depth, false);
  return { properties, required, items };
}

/** The application/json schema of a request body or response (through $ref), if any. */
function jsonSchema(holder: unknown, doc: Json): Json | undefined {
  if (!holder || typeof holder !== "object") return undefined;
  const resolved = resolve(holder as Json, doc);
  const content = (resolved.content ?? {}) as Record<string, Json>;
  const media = content["application/json"] ??
    Object.entries(content).find(([type]) => /json/.test(type))?.[1];
  return media?.schema as Json | undefined;
}

/** Follows local `$ref`s (`#/components/...`). */
function resolve(value: Json, doc: Json): Json {
  let current = value;
  for (let i = 0; i < 20 && typeof current?.$ref === "string"; i++) {
    const ref = current.$ref as string;
    if (!ref.startsWith("#/")) return current;
    let target: unknown = doc;
    for (const part of ref.slice(2).split("/")) {
      target = (target as Json | undefined)?.[part.replaceAll("~1", "/").replaceAll("~0", "~")];
    }
    if (!target || typeof target !== "object") return {};
    current = target as Json;
  }
  return current ?? {};
}

/** The smallest bump a list of changes needs, for a project at `version` (0.x: breaking → minor). */
export function requiredBump(changes: ApiChange[], version: string): BumpLevel {
  const zero = /^0\./.test(version);
  if (changes.some((c) => c.level === "breaking")) return zero ? "minor" : "major";
  if (changes.some((c) => c.level === "addition")) return zero ? "patch" : "minor";
  return "none";
}

/** What kind of bump going from one version to another is. */
export function bumpLevel(from: string, to: string): BumpLevel {
  const parse = (v: string) => v.split(/[.+-]/).slice(0, 3).map((n) => Number.parseInt(n, 10));
  const [a = 0, b = 0, c = 0] = parse(from);
  const [x = 0, y = 0, z = 0] = parse(to);
  if (x !== a) return "major";
  if (y !== b) return "minor";
  if (z !== c) return "patch";
  return "none";
}

/** True when bump `level` is at least `needed`. */
export function bumpCovers(level: BumpLevel, needed: BumpLevel): boolean {
  return LEVELS.indexOf(level) >= LEVELS.indexOf(needed);
}
