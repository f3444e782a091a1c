import { FilterError, parseAttrPath, parseFilter, type Filter } from "./filter";
import { ScimError } from "./errors";
import { SCHEMA } from "./schema";

// PATCH (RFC 7644 §3.5.2) applied to a resource as plain JSON: add, replace and remove, with and
// without a path, value filters (members[value eq "…"]), sub-attribute paths (name.givenName,
// emails[type eq "work"].value), op names in any case (Entra sends "Replace"). The caller applies
// the result as a whole replacement inside one transaction, so a PATCH applies entirely or not at all.

export type PatchOperation = { op: string; path?: string; value?: unknown };

type Json = Record<string, unknown>;

const isObject = (v: unknown): v is Json => !!v && typeof v === "object" && !Array.isArray(v);

/** Finds a key case-insensitively (SCIM attribute names are case-insensitive). */
// Names that reach an object's prototype when written with brackets: `out["__proto__"]` is
// Object.prototype, and merging into it would change every object of the process. No SCIM attribute
// is named so (RFC 7643 §2.1: ALPHA *(nameChar)); refused wherever a client's name becomes a key.
const PROTOTYPE_KEYS = new Set(["__proto__", "constructor", "prototype"]);

function keyOf(obj: Json, name: string): string {
  if (PROTOTYPE_KEYS.has(name.toLowerCase())) throw new ScimError(400, `"${name}" is not an attribute name.`, "invalidValue");
  return Object.keys(obj).find((k) => k.toLowerCase() === name.toLowerCase()) ?? name;
}

/** Does one element of a multi-valued attribute match a value filter? Evaluated in memory. */
export function matches(element: unknown, filter: Filter): boolean {
  switch (filter.type) {
    case "and":
      return matches(element, filter.left) && matches(element, filter.right);
    case "or":
      return matches(element, filter.left) || matches(element, filter.right);
    case "not":
      return !matches(element, filter.filter);
    case "valuePath":
      throw new ScimError(400, "Value filters cannot nest.", "invalidPath");
    case "present": {
      if (!isObject(element)) return false;
      const v = element[keyOf(element, filter.path.attr)];
      return v !== undefined && v !== null && v !== "";
    }
    case "compare": {
      if (!isObject(element)) return false;
      const raw = element[keyOf(element, filter.path.attr)];
      if (filter.value === null) return filter.op === "eq" ? raw == null : filter.op === "ne" ? raw != null : false;
      if (typeof filter.value === "boolean" || typeof raw === "boolean") {
        const b = typeof raw === "string" ? raw.toLowerCase() === "true" : raw;
        return filter.op === "eq" ? b === filter.value : filter.op === "ne" ? b !== filter.value : false;
      }
      const a = String(raw ?? "").toLowerCase();
      const b = String(filter.value).toLowerCase();
      if (raw === undefined || raw === null) return filter.op === "ne";
      switch (filter.op) {
        case "eq":
          return a === b;
        case "ne":
          return a !== b;
        case "co":
          return a.includes(b);
        case "sw":
          return a.startsWith(b);
        case "ew":
          return a.endsWith(b);
        case "gt":
          return a > b;
        case "ge":
          return a >= b;
        case "lt":
          return a < b;
        case "le":
          return a <= b;
      }
    }
  }
}

type ParsedPath = { container: string[]; attr: string; filter: Filter | null; sub: string | null };

/** attr, attr.sub, urn:…:attr, attr[filter], attr[filter].sub */
function parsePath(path: string): ParsedPath {
  const trimmed = path.trim();
  let schemaPrefix: string[] = [];
  let rest = trimmed;
  // An extension attribute: urn:…:enterprise:2.0:User:manager.value
  const lower = trimmed.toLowerCase();
  if (lower.startsWith(SCHEMA.enterprise.toLowerCase() + ":")) {
    schemaPrefix = [SCHEMA.enterprise];
    rest = trimmed.slice(SCHEMA.enterprise.length + 1);
  } else if (lower.startsWith(SCHEMA.user.toLowerCase() + ":") || lower.startsWith(SCHEMA.group.toLowerCase() + ":")) {
    rest = trimmed.slice(trimmed.indexOf(":", trimmed.lastIndexOf(":2.0:") + 5) + 1);
  }
  const bracket = rest.indexOf("[");
  try {
    if (bracket >= 0) {
      const close = rest.lastIndexOf("]");
      if (close < bracket) throw new FilterError("Missing ]");
      const attr = parseAttrPath(rest.slice(0, bracket));
      const after = rest.slice(close + 1);
      if (after && !after.startsWith(".")) throw new FilterError(`Unexpected "${after}"`);
      return { container: schemaPrefix, attr: attr.attr, filter: parseFilter(rest.slice(bracket + 1, close)), sub: after ? after.slice(1).toLowerCase() : null };
    }
    const attr = parseAttrPath(rest);
    return { container: schemaPrefix, attr: attr.attr, filter: null, sub: attr.sub };
  } catch (e) {
    if (e instanceof FilterError) throw new ScimError(400, `The path "${path}" is not valid: ${e.message}`, "invalidPath");
    throw e;
  }
}

function containerOf(resource: Json, keys: string[], create: boolean): Json | null {
  let node: Json = resource;
  for (const k of keys) {
    const key = keyOf(node, k);
    if (!isObject(node[key])) {
      if (!create) return null;
      node[key] = {};
    }
    node = node[key] as Json;
  }
  return node;
}

function merge(target: Json, value: Json) {
  for (const [k, v] of Object.entries(value)) {
    const key = keyOf(target, k);
    if (isObject(v) && isObject(target[key])) merge(target[key] as Json, v);
    else if (Array.isArray(v) && Array.isArray(target[key])) target[key] = [...(target[key] as unknown[]), ...v];
    else target[key] = v;
  }
}

/** Applies the operations to a copy of the resource and returns it; throws ScimError on bad input. */
export function applyPatch(resource: Json, body: unknown): Json {
  if (!isObject(body)) throw new ScimError(400, "The PATCH body must be a JSON object.", "invalidSyntax");
  const opsKey = keyOf(body, "Operations");
  const operations = body[opsKey];
  if (!Array.isArray(operations) || operations.length === 0) throw new ScimError(400, "The PATCH body needs a non-empty Operations array.", "invalidSyntax");
  if (operations.length > 1000) throw new ScimError(400, "At most 1000 operations per PATCH.", "tooMany");
  const out = structuredClone(resource);
  operations.forEach((raw, i) => {
    if (!isObject(raw)) throw new ScimError(400, `Operation ${i + 1} is not an object.`, "invalidSyntax");
    const op = String(raw[keyOf(raw, "op")] ?? "").toLowerCase();
    const path = raw[keyOf(raw, "path")];
    const value = raw[keyOf(raw, "value")];
    if (!["add", "replace", "remove"].includes(op)) throw new ScimError(400, `Operation ${i + 1}: "${String(raw[keyOf(raw, "op")])}" is not add, replace or remove.`, "invalidSyntax");
    if (path !== undefined && typeof path !== "string") throw new ScimError(400, `Operation ${i + 1}: the path must be a string.`, "invalidPath");
    if (!path) {
      if (op === "remove") throw new ScimError(400, `Operation ${i + 1}: remove needs a path.`, "noTarget");
      if (!isObject(value)) throw new ScimError(400, `Operation ${i + 1}: without a path the value must be an object of attributes.`, "invalidValue");
      applyAttributes(out, out, op, value, i, "");
      return;
    }
    if (isExtension(path)) applyToExtension(out, op, value, i);
    else applyOne(out, op, parsePath(path), value, i);
  });
  return out;
}

const isExtension = (name: string) => name.trim().toLowerCase() === SCHEMA.enterprise.toLowerCase();

/**
 * The attributes of `value` into `target` (the resource, or its enterprise extension with `prefix`
 * its URN and a colon), as a PATCH without a path does: each attribute named is added or replaced,
 * the others are left as they are (RFC 7644 §3.5.2.1, §3.5.2.3).
 */
function applyAttributes(root: Json, target: Json, op: string, value: Json, i: number, prefix: string) {
  for (const [k, v] of Object.entries(value)) {
    // The extension as a whole: {"urn:…:enterprise:2.0:User": {"department": "Sales"}}.
    if (!prefix && isExtension(k)) applyToExtension(root, op, v, i);
    // Entra sends {"op":"Replace","value":{"name.givenName":"x"}}: dotted keys are paths too.
    else if (k.includes(".") || k.toLowerCase().startsWith("urn:")) applyOne(root, op, parsePath(prefix + k), v, i);
    else if (op === "add" && isObject(v) && isObject(target[keyOf(target, k)])) merge(target[keyOf(target, k)] as Json, v);
    else if (op === "add" && Array.isArray(v) && Array.isArray(target[keyOf(target, k)])) target[keyOf(target, k)] = [...(target[keyOf(target, k)] as unknown[]), ...v];
    else target[keyOf(target, k)] = v;
  }
}

/** An operation on the enterprise extension as a whole: its attributes set as a PATCH without a path sets the resource's; remove takes it all. */
function applyToExtension(resource: Json, op: string, value: unknown, i: number) {
  if (op === "remove") {
    delete resource[keyOf(resource, SCHEMA.enterprise)];
    return;
  }
  if (!isObject(value)) throw new ScimError(400, `Operation ${i + 1}: the value for ${SCHEMA.enterprise} must be an object of its attributes.`, "invalidValue");
  applyAttributes(resource, containerOf(resource, [SCHEMA.enterprise], true)!, op, value, i, `${SCHEMA.enterprise}:`);
}

/**
 * A patched resource without the attributes no client writes: `schemas` (clients echo it), and an
 * `id` equal to the resource's own (Okta sends it in a group's replace). Any other change of a
 * read-only attribute (`id`, `meta`, and those named) is refused, as RFC 7644 §3.5.2 says, rather than
 * answered 200 with nothing done.
 */
export function withoutReadOnly(patched: Json, id: string, readOnly: readonly string[]): Json {
  for (const key of Object.keys(patched)) {
    const lower = key.toLowerCase();
    if (lower === "schemas" || (lower === "id" && typeof patched[key] === "string" && (patched[key] as string).toLowerCase() === id.toLowerCase())) delete patched[key];
    else if (lower === "id" || lower === "meta" || readOnly.includes(lower)) throw new ScimError(400, `"${key}" is read-only: no client sets it.`, "mutability");
  }
  return patched;
}

function applyOne(resource: Json, op: string, p: ParsedPath, value: unknown, i: number) {
  const container = containerOf(resource, p.container, op !== "remove");
  if (!container) return;
  const key = keyOf(container, p.attr);
  const current = container[key];
  if (p.filter) {
    const list = Array.isArray(current) ? current : [];
    const hits = list.filter((e) => matches(e, p.filter!));
    if (op === "remove") {
      if (p.sub) {
        for (const e of hits) if (isObject(e)) delete e[keyOf(e, p.sub)];
      } else {
        container[key] = list.filter((e) => !hits.includes(e));
      }
      return;
    }
    if (hits.length === 0) {
      if (op === "replace" && !p.sub) throw new ScimError(400, `Operation ${i + 1}: no value of ${p.attr} matches the filter.`, "noTarget");
      // add (or replace of a sub-attribute) with no match: create the element the filter describes.
      const created: Json = {};
      if (p.filter.type === "compare" && p.filter.op === "eq") created[p.filter.path.attr] = p.filter.value;
      if (p.sub) created[p.sub] = value;
      else if (isObject(value)) Object.assign(created, value);
      container[key] = [...list, created];
      return;
    }
    for (const e of hits) {
      if (!isObject(e)) continue;
      if (p.sub) e[keyOf(e, p.sub)] = value;
      else if (isObject(value)) {
        if (op === "replace") for (const k of Object.keys(e)) delete e[k];
        Object.assign(e, value);
      }
    }
    return;
  }
  if (p.sub) {
    if (op === "remove") {
      if (isObject(current)) {
        delete current[keyOf(current, p.sub)];
      } else if (Array.isArray(current)) {
        for (const e of current) if (isObject(e)) delete e[keyOf(e, p.sub)];
      }
      return;
    }
    if (Array.isArray(current)) {
      for (const e of current) if (isObject(e)) e[keyOf(e, p.sub)] = value;
      return;
    }
    const obj = isObject(current) ? current : {};
    obj[keyOf(obj, p.sub)] = value;
    container[key] = obj;
    return;
  }
  if (op === "remove") {
    // Remove all, or (Azure's style) only the listed values of a multi-valued attribute.
    if (Array.isArray(current) && Array.isArray(value) && value.length) {
      const drop = new Set(value.map((v) => (isObject(v) ? String(v[keyOf(v, "value")] ?? "") : String(v))));
      container[key] = current.filter((e) => !drop.has(isObject(e) ? String(e[keyOf(e, "value")] ?? "") : String(e)));
    } else delete container[key];
    return;
  }
  if (op === "add" && Array.isArray(current)) {
    const additions = Array.isArray(value) ? value : [value];
    const seen = new Set(current.map((e) => JSON.stringify(e)));
    container[key] = [...current, ...additions.filter((a) => !seen.has(JSON.stringify(a)))];
    return;
  }
  if (op === "add" && isObject(current) && isObject(value)) {
    merge(current, value);
    return;
  }
  container[key] = value;
}
