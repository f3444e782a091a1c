#!/usr/bin/env node
// iam: the identity console from the command line, for admins and pipelines. Every command is an
// endpoint of the REST API, read from the server's own OpenAPI document (its operationId is
// `<resource>.<verb>`), so the CLI covers whatever the API covers, with the server's validation and
// reasons. Plain Node 20, no dependencies.
//
//   IAM_URL=https://iam.example IAM_TOKEN=iamc_… iam users list --environment prod --output table
//   iam users create --name "Ana Ruiz" --email ana@example.com --environment-ids <uuid>,<uuid>
//   iam groups add-members <group id> --user-ids <uuid>
//   iam help [resource]
//
// Exit codes: 0 done, 1 the server refused (its reason on stderr), 2 a usage error (said before
// anything is sent), 3 unreachable (or something other than the console answered, e.g. a proxy's
// HTML error page).

import fs from "node:fs";
import { fileURLToPath } from "node:url";

const USAGE = `usage: iam <resource> <verb> [ids…] [--field value…] [--data JSON|@file|-] [--output json|table] [--all]
       iam env export KEY | iam env plan KEY --from FILE | iam env apply KEY --from FILE [--plan-hash HASH]
       iam help [resource]
Options: --url (or IAM_URL), --token (or IAM_TOKEN), --if-match ETAG (PATCH/PUT: refused with 412 if the
resource changed since), --idempotency-key KEY (POST: a retry answers the first answer). Field names as in the
API (camelCase) or kebab-case; arrays as comma-separated values or repeated flags; --data for whole JSON bodies.`;

class UsageError extends Error {}
/** The console cannot be reached, or something other than it answered (a proxy's error page): exit 3. */
class Unreachable extends Error {}

const kebab = (name) => name.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`);

/** JSON given on the command line (a field, or --data): a usage error when it is not. */
function parseJson(text, what) {
  try {
    return JSON.parse(text);
  } catch (error) {
    throw new UsageError(`${what} is not JSON: ${error.message}`);
  }
}

function parseArgs(argv) {
  const positional = [];
  const flags = {};
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    if (arg === "--") {
      positional.push(...argv.slice(i + 1));
      break;
    }
    if (!arg.startsWith("--")) {
      positional.push(arg);
      continue;
    }
    const eq = arg.indexOf("=");
    const name = (eq === -1 ? arg.slice(2) : arg.slice(2, eq)).replace(/-([a-z])/g, (_, c) => c.toUpperCase());
    let value = eq === -1 ? undefined : arg.slice(eq + 1);
    if (value === undefined) value = argv[i + 1] !== undefined && !argv[i + 1].startsWith("--") ? argv[++i] : "true";
    (flags[name] ??= []).push(value);
  }
  return { positional, flags };
}

const one = (flags, name) => (flags[name] ? flags[name].at(-1) : undefined);

const NUMBER = { integer: [/^-?\d+$/, "a whole number"], number: [/^-?\d+(\.\d+)?([eE][+-]?\d+)?$/, "a number"] };

/**
 * Flag `name`'s text as the schema (from the OpenAPI document) types it: a number only when it is
 * one, a boolean only `true` or `false` (a typo must not turn a switch off), an array
 * (comma-separated or repeated), an object (JSON), `null` where the field may be null. Anything
 * else is a usage error, said before anything is sent.
 */
function coerce(name, values, schema = {}) {
  const type = Array.isArray(schema.type) ? schema.type.find((t) => t !== "null") : schema.type;
  if (type === "array") return values.flatMap((v) => v.split(",")).filter((v) => v !== "").map((v) => coerce(name, [v], schema.items ?? {}));
  const value = values.at(-1);
  if (value === "null" && Array.isArray(schema.type) && schema.type.includes("null")) return null;
  if (type === "integer" || type === "number") {
    const [pattern, what] = NUMBER[type];
    const n = Number(value);
    if (!pattern.test(value) || !Number.isFinite(n)) throw new UsageError(`--${kebab(name)} takes ${what}, not "${value}"`);
    return n;
  }
  if (type === "boolean") {
    if (value !== "true" && value !== "false") throw new UsageError(`--${kebab(name)} takes true or false, not "${value}"`);
    return value === "true";
  }
  if (type === "object") return parseJson(value, `--${kebab(name)}`);
  return value;
}

function resolveRef(doc, schema) {
  let s = schema ?? {};
  while (s.$ref) s = s.$ref.split("/").slice(1).reduce((o, k) => o[k], doc);
  if (s.allOf) return Object.assign({}, ...s.allOf.map((x) => resolveRef(doc, x)));
  return s;
}

function readData(value) {
  if (value === "-") return parseJson(fs.readFileSync(0, "utf8"), "--data (stdin)");
  if (value.startsWith("@")) {
    let text;
    try {
      text = fs.readFileSync(value.slice(1), "utf8");
    } catch (error) {
      throw new UsageError(`cannot read ${value.slice(1)}: ${error.message}`);
    }
    return parseJson(text, `--data ${value}`);
  }
  return parseJson(value, "--data");
}

/**
 * One request to the console: the response and its text. The console unreachable, or the
 * connection lost before the whole answer came, is Unreachable (exit 3).
 */
async function send(base, url, init) {
  try {
    const res = await fetch(url, init);
    return { res, text: await res.text() };
  } catch (error) {
    throw new Unreachable(`cannot reach ${base}: ${error.cause?.message ?? error.message}`);
  }
}

/** An answer's JSON (null when empty); an answer that is not JSON came from something other than the console's API (exit 3). */
function answerJson(base, { res, text }) {
  if (!text) return null;
  try {
    return JSON.parse(text);
  } catch {
    const type = res.headers.get("content-type")?.split(";")[0] || "no content type";
    throw new Unreachable(`${base} answered ${`${res.status} ${res.statusText}`.trim()} with ${type}, not the console's JSON (is IAM_URL the console's address, and is it up?)`);
  }
}

/** The server's refusal on stderr: its status, reason and every field error (exit 1). */
function refusal(res, json) {
  const fieldLines = Object.entries(json?.errors ?? {}).map(([f, msgs]) => `  ${f}: ${[msgs].flat().join(" ")}`);
  return [`iam: ${res.status} ${json?.detail ?? json?.title ?? res.statusText}`, ...fieldLines].join("\n");
}

function commands(doc) {
  const list = [];
  for (const [path, item] of Object.entries(doc.paths ?? {})) {
    for (const [method, op] of Object.entries(item)) {
      if (!op.operationId) continue;
      const [resource, verb] = op.operationId.split(".");
      list.push({ resource, verb, method: method.toUpperCase(), path, op });
    }
  }
  return list;
}

function table(rows) {
  if (!rows.length) return "(none)";
  const scalar = (v) => v === null || v === undefined || typeof v !== "object";
  const columns = Object.keys(rows[0]).filter((k) => rows.every((r) => scalar(r[k]) || Array.isArray(r[k])));
  const text = (v) => (Array.isArray(v) ? v.map((x) => (typeof x === "object" ? (x.key ?? x.name ?? JSON.stringify(x)) : x)).join(",") : v === null || v === undefined ? "" : String(v));
  const widths = columns.map((c) => Math.min(60, Math.max(c.length, ...rows.map((r) => text(r[c]).length))));
  const line = (cells) => cells.map((c, i) => c.slice(0, widths[i]).padEnd(widths[i])).join("  ").trimEnd();
  return [line(columns), line(widths.map((w) => "-".repeat(w))), ...rows.map((r) => line(columns.map((c) => text(r[c]))))].join("\n");
}

function helpText(list, resource) {
  const shown = resource ? list.filter((c) => c.resource === resource) : list;
  if (!shown.length) throw new UsageError(`no such resource "${resource}"; try: iam help`);
  return shown
    .map((c) => {
      const ids = (c.op.parameters ?? []).filter((p) => p.in === "path").map((p) => `<${p.name}>`);
      return `  iam ${[c.resource, c.verb, ...ids].join(" ")}\n      ${c.op.summary ?? ""}`;
    })
    .join("\n");
}

const PROMOTION_USAGE = "usage: iam env export KEY | iam env plan KEY --from FILE | iam env apply KEY --from FILE [--plan-hash HASH]";

/** A request's headers: the token, JSON, and the --if-match and --idempotency-key flags when given. */
function requestHeaders(token, flags, hasBody) {
  const headers = { authorization: `Bearer ${token}`, accept: "application/json" };
  if (hasBody) headers["content-type"] = "application/json";
  if (flags.ifMatch) headers["if-match"] = one(flags, "ifMatch");
  if (flags.idempotencyKey) headers["idempotency-key"] = one(flags, "idempotencyKey");
  return headers;
}

/**
 * Environment promotion: `env export KEY` prints the configuration document (redirect it to a file),
 * `env plan KEY --from FILE` prints what applying it would change (`No changes.` when nothing),
 * `env apply KEY --from FILE [--plan-hash H]` applies it in one transaction.
 */
async function promotion([verb, key, ...rest], flags, { base, token, out, err }) {
  if (!["export", "plan", "apply"].includes(verb ?? "") || !key || rest.length) throw new UsageError(PROMOTION_USAGE);
  if (!token) throw new UsageError("set IAM_TOKEN (or --token) to an API token (Settings → API tokens, or `npm run iam -- token create`)");
  const from = one(flags, "from");
  if (verb !== "export" && !from) throw new UsageError(`iam env ${verb} needs --from FILE (a document from iam env export)`);
  let document;
  if (from) {
    try {
      document = JSON.parse(from === "-" ? fs.readFileSync(0, "utf8") : fs.readFileSync(from, "utf8"));
    } catch (error) {
      throw new UsageError(`cannot read ${from}: ${error.message}`);
    }
  }
  const path = `/environments/${encodeURIComponent(key)}/${verb === "export" ? "config" : verb}`;
  const body = verb === "plan" ? document : verb === "apply" ? { document, ...(flags.planHash ? { planHash: one(flags, "planHash") } : {}) } : undefined;
  // A retried apply with the same key answers the first answer (plan ignores it: it only asks).
  const headers = requestHeaders(token, flags, body !== undefined);
  const answer = await send(base, `${base}/api/v1${path}`, { method: verb === "export" ? "GET" : "POST", headers, body: body === undefined ? undefined : JSON.stringify(body) });
  const { res } = answer;
  const json = answerJson(base, answer);
  if (!res.ok) {
    err(refusal(res, json));
    return 1;
  }
  if (verb === "export" || one(flags, "output") === "json") out(JSON.stringify(json, null, 2));
  else out(verb === "apply" ? (json.changes.length ? `${json.text}\nApplied to ${key}.` : json.text) : json.text);
  return 0;
}

export async function main(argv, { env = process.env, out = (s) => process.stdout.write(s + "\n"), err = (s) => process.stderr.write(s + "\n") } = {}) {
  try {
    const { positional, flags } = parseArgs(argv);
    const base = (one(flags, "url") ?? env.IAM_URL ?? "").replace(/\/+$/, "");
    const token = one(flags, "token") ?? env.IAM_TOKEN;
    if (!positional.length || positional[0] === "--help") {
      out(USAGE);
      return positional.length ? 0 : 2;
    }
    if (!base) throw new UsageError("set IAM_URL (or --url) to the console's address");
    const docAnswer = await send(base, `${base}/api/v1/openapi.json`);
    if (!docAnswer.res.ok) throw new Unreachable(`${base} answered ${docAnswer.res.status} for its OpenAPI document`);
    const doc = answerJson(base, docAnswer);
    const list = commands(doc);
    if (positional[0] === "help") {
      out(`${USAGE}\n\nCommands:\n${helpText(list, positional[1])}`);
      return 0;
    }
    if (positional[0] === "env") return await promotion(positional.slice(1), flags, { base, token, list, out, err });
    const [resource, verb, ...ids] = positional;
    const command = list.find((c) => c.resource === resource && c.verb === verb);
    if (!command) {
      const verbs = list.filter((c) => c.resource === resource).map((c) => c.verb);
      throw new UsageError(verbs.length ? `"${resource}" has no verb "${verb ?? ""}"; it has: ${verbs.join(", ")}` : `no such resource "${resource}"; try: iam help`);
    }
    if (!token) throw new UsageError("set IAM_TOKEN (or --token) to an API token (Settings → API tokens, or `npm run iam -- token create`)");
    const params = (command.op.parameters ?? []).filter((p) => p.in === "path");
    if (ids.length !== params.length) throw new UsageError(`usage: iam ${resource} ${verb} ${params.map((p) => `<${p.name}>`).join(" ")}`.trimEnd());
    let path = command.path;
    params.forEach((p, i) => (path = path.replace(`{${p.name}}`, encodeURIComponent(ids[i]))));

    const options = new Set(["url", "token", "output", "data", "all", "ifMatch", "idempotencyKey"]);
    const fields = Object.fromEntries(Object.entries(flags).filter(([k]) => !options.has(k)));
    const query = new URLSearchParams();
    let body;
    if (command.method === "GET" || command.method === "DELETE") {
      const known = new Map((command.op.parameters ?? []).filter((p) => p.in === "query").map((p) => [p.name, p]));
      for (const [name, values] of Object.entries(fields)) {
        if (!known.has(name)) throw new UsageError(`unknown option --${name} for ${resource} ${verb}; it takes: ${[...known.keys()].map((k) => `--${k}`).join(" ") || "no options"}`);
        for (const v of values) query.append(name, v);
      }
    } else {
      const schema = resolveRef(doc, command.op.requestBody?.content?.["application/json"]?.schema);
      const props = schema.properties ?? {};
      body = flags.data ? readData(one(flags, "data")) : {};
      for (const [name, values] of Object.entries(fields)) {
        if (!props[name]) throw new UsageError(`unknown field --${name} for ${resource} ${verb}; it takes: ${Object.keys(props).map((k) => `--${k}`).join(" ") || "no fields"}`);
        body[name] = coerce(name, values, resolveRef(doc, props[name]));
      }
    }
    const headers = requestHeaders(token, flags, body !== undefined);

    const rows = [];
    let result;
    for (let cursor; ; ) {
      if (cursor) query.set("cursor", cursor);
      const qs = query.toString();
      const answer = await send(base, `${base}/api/v1${path}${qs ? `?${qs}` : ""}`, { method: command.method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
      const { res } = answer;
      const json = answerJson(base, answer);
      if (!res.ok) {
        err(refusal(res, json));
        return 1;
      }
      result = json;
      if (!flags.all || !json || !Array.isArray(json.data)) break;
      rows.push(...json.data);
      if (!json.nextCursor) {
        result = { data: rows };
        break;
      }
      cursor = json.nextCursor;
    }
    if (result === null) out(`${resource} ${verb}: done`);
    else if (one(flags, "output") === "table") out(table(Array.isArray(result.data) ? result.data : Array.isArray(result) ? result : [result]));
    else out(JSON.stringify(result, null, 2));
    return 0;
  } catch (error) {
    if (error instanceof UsageError) {
      err(`iam: ${error.message}`);
      return 2;
    }
    if (error instanceof Unreachable) {
      err(`iam: ${error.message}`);
      return 3;
    }
    throw error;
  }
}

// Run when executed (directly, or through npm's bin link), not when imported by scripts/iam.ts.
function invokedDirectly() {
  try {
    return process.argv[1] !== undefined && fs.realpathSync(process.argv[1]) === fileURLToPath(import.meta.url);
  } catch {
    return false; // argv[1] is not a file (node -e, a REPL): imported, not run
  }
}
const invoked = invokedDirectly();
if (invoked) process.exitCode = await main(process.argv.slice(2));
