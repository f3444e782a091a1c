import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { env as config } from "@/env";
import type { Environment } from "@/db/schema";
import { createEnvironments, databaseFingerprint } from "@/test-support/fixtures";
import { restClient, restTokens, validateAgainstOpenApi } from "@/test-support/rest-api";
import { createProdRows, endpointCases, type EndpointCase, type ProdRows } from "@/test-support/rest-cases";
import { ENDPOINTS, type Endpoint, type HttpMethod } from "./v1";

// Every endpoint of the table, sent what a client can get wrong, with a token that may call it: a
// body that is not JSON, JSON that is not an object, an object whose fields have the wrong types, a
// path id that is not a UUID, a UUID that names nothing, an unknown environment key, and query
// parameters out of range. Each answers 4xx with its reason (never 500), and the database is the same
// after as before. The requests are those of test-support/rest-cases.ts (real rows, bodies the
// endpoint accepts), broken one way at a time. What each does with good input is in the family files.

let env: { dev: Environment; test: Environment; prod: Environment };
const tokens = { write: "", read: "", devWrite: "", devRead: "" };
const { api, recorded } = restClient(() => tokens.write);
let cases: Record<string, EndpointCase>;
let rows: ProdRows;
let document: unknown;

beforeAll(async () => {
  env = await createEnvironments();
  (config() as { ALLOW_PRIVATE_WEBHOOK_URLS: boolean }).ALLOW_PRIVATE_WEBHOOK_URLS = true;
  Object.assign(tokens, await restTokens(env.dev.id));
  ({ rows, document } = await createProdRows(api, env));
  cases = endpointCases(rows, env, document);
});
afterAll(() => {
  (config() as { ALLOW_PRIVATE_WEBHOOK_URLS: boolean }).ALLOW_PRIVATE_WEBHOOK_URLS = false;
});

const UNKNOWN = "00000000-0000-4000-8000-000000000000";
const hasBody = (e: Endpoint) => e.body !== undefined;
const nameOf = (e: Endpoint) => `${e.method} ${e.path}`;
/** The case's path with every real id replaced by one that names nothing. */
const unknownIds = (path: string) => Object.values(rows).reduce((p, id) => p.replaceAll(id, UNKNOWN), path);

type Answer = { status: number; detail?: string; errors?: Record<string, string[]> };
async function send(method: HttpMethod, path: string, options: { raw?: string; body?: unknown } = {}): Promise<Answer> {
  const answer = await api(method, path, options);
  return { status: answer.status, detail: answer.json?.detail, errors: answer.json?.errors };
}

describe("every REST endpoint refuses bad input with the reason, writing nothing", () => {
  let before: Record<string, string>;
  beforeAll(async () => {
    before = await databaseFingerprint();
  });
  const failures: string[] = [];
  const check = (name: string, answer: Answer, expected: (a: Answer) => boolean) => {
    if (!expected(answer)) failures.push(`${name}: ${answer.status} ${answer.detail ?? ""} ${JSON.stringify(answer.errors ?? {})}`);
  };
  const path = (e: Endpoint) => cases[nameOf(e)]!.path;

  it("a body that is not JSON: 400 “The body is not valid JSON.”", async () => {
    for (const e of ENDPOINTS.filter(hasBody)) {
      check(`${e.method} ${e.path}`, await send(e.method, path(e), { raw: "{not json" }), (a) => a.status === 400 && a.detail === "The body is not valid JSON.");
    }
    expect(failures.splice(0)).toEqual([]);
  });

  it("JSON that is not an object, or an object with every field of the wrong type: 400 with the fields named", async () => {
    for (const e of ENDPOINTS.filter(hasBody)) {
      for (const body of [[1, 2], "text", 42, null]) {
        check(`${e.method} ${e.path} ${JSON.stringify(body)}`, await send(e.method, path(e), { body }), (a) => a.status === 400 && a.detail === "The body must be a JSON object.");
      }
      const shape = (e.body as { shape?: Record<string, unknown> }).shape;
      if (shape) {
        const wrong = Object.fromEntries(Object.keys(shape).map((k) => [k, { wrong: true }]));
        check(`${e.method} ${e.path} wrong types`, await send(e.method, path(e), { body: wrong }), (a) => a.status === 400 && Object.keys(a.errors ?? {}).length > 0);
      }
    }
    expect(failures.splice(0)).toEqual([]);
  });

  it("a PATCH that changes nothing: 400 with the reason", async () => {
    const NOTHING: Record<string, string> = {
      "PATCH /environments/{key}": "Give a new name or description.",
      // A console member's one changeable field is the role.
      "PATCH /console-members/{id}": "Choose a role: owner, admin, environment_admin, reviewer.",
    };
    for (const e of ENDPOINTS.filter((e) => e.method === "PATCH")) {
      check(nameOf(e), await send(e.method, path(e), { body: {} }), (a) => a.status === 400 && a.detail === (NOTHING[nameOf(e)] ?? "Nothing to change."));
    }
    expect(failures.splice(0)).toEqual([]);
  });

  it("a path id that is not a UUID, and a UUID that names nothing: 404 with what was not found", async () => {
    for (const e of ENDPOINTS.filter((e) => /\{(?!key\}|environment\})\w+\}/.test(e.path))) {
      const { body } = cases[nameOf(e)]!;
      const notUuid = unknownIds(path(e)).replaceAll(UNKNOWN, "not-a-uuid");
      check(`${nameOf(e)} not-a-uuid`, await send(e.method, notUuid, { body }), (a) => a.status === 404 && a.detail === "No such resource (the id is not a UUID).");
      check(`${nameOf(e)} unknown`, await send(e.method, unknownIds(path(e)), { body }), (a) => a.status === 404 && /not found|^No /.test(a.detail ?? ""));
    }
    expect(failures.splice(0)).toEqual([]);
  });

  it("an unknown environment key, in the path or the body: 404 “No environment “nowhere”.”", async () => {
    for (const e of ENDPOINTS) {
      const c = cases[nameOf(e)]!;
      const p = c.path.replace(/\/environments\/prod\b/, "/environments/nowhere").replace("environment=prod", "environment=nowhere");
      // A body's environment key (a document's "environment" describes its source, not the target).
      const body = c.body && typeof c.body === "object" && typeof (c.body as { environment?: unknown }).environment === "string" ? { ...c.body, environment: "nowhere" } : c.body;
      if (p === c.path && body === c.body) continue;
      check(nameOf(e), await send(e.method, p, { body }), (a) => a.status === 404 && a.detail === "No environment “nowhere”.");
    }
    expect(failures.splice(0)).toEqual([]);
  });

  it("query parameters of the wrong kind: 400 naming them", async () => {
    for (const e of ENDPOINTS.filter((e) => e.query)) {
      const keys = Object.keys(e.query!.shape);
      const query = keys.map((k) => `${k}=${encodeURIComponent("~".repeat(300))}`).join("&");
      check(`${nameOf(e)} ?${keys.join(",")}`, await send(e.method, `${path(e).split("?")[0]}?${query}`), (a) => a.status === 400 && Object.keys(a.errors ?? {}).length > 0);
    }
    expect(failures.splice(0)).toEqual([]);
  });

  it("wrote nothing", async () => {
    expect(await databaseFingerprint()).toEqual(before);
  });

  it("answered as the OpenAPI document says", () => {
    const { failures: invalid, checked } = validateAgainstOpenApi(recorded);
    expect(invalid).toEqual([]);
    expect(checked).toBeGreaterThan(200);
  });
});
