import { Ajv2020 } from "ajv/dist/2020.js";
import addFormats from "ajv-formats";
import { handleApiRequest } from "@/lib/doors/rest/handler";
import { openApiDocument } from "@/lib/doors/rest/openapi";
import { ENDPOINTS, type HttpMethod } from "@/lib/doors/rest/v1";

// The REST API's tests call it through the same dispatcher as every request and record each answer;
// at the end, every recorded answer is validated against the served OpenAPI document (the document
// says what the API answers, not only what it accepts).

export type Recorded = { method: HttpMethod; path: string; status: number; json: unknown };
/** `token: null`: no Authorization header. `raw`: a body sent as written (malformed JSON), instead of `body` serialised. */
type Call = { token?: string | null; body?: unknown; raw?: string; headers?: Record<string, string> };

/** A caller of /api/v1 with a default token, recording every answer into `recorded`. */
export function restClient(defaultToken: () => string) {
  const recorded: Recorded[] = [];
  // eslint-disable-next-line @typescript-eslint/no-explicit-any -- answers are read loosely by the tests
  async function api(method: HttpMethod, path: string, options: Call = {}): Promise<{ status: number; headers: Headers; json: any }> {
    const token = options.token === undefined ? defaultToken() : options.token;
    const headers: Record<string, string> = { ...(token ? { authorization: `Bearer ${token}` } : {}), ...options.headers };
    const body = options.raw ?? (options.body === undefined ? undefined : JSON.stringify(options.body));
    if (body !== undefined && !headers["content-type"]) headers["content-type"] = "application/json";
    const response = await handleApiRequest(new Request(`http://localhost/api/v1${path}`, { method, headers, body }), method);
    const text = await response.text();
    const json = text ? JSON.parse(text) : null;
    recorded.push({ method, path: path.split("?")[0]!, status: response.status, json });
    return { status: response.status, headers: response.headers, json };
  }
  return { api, recorded };
}

/** Each recorded answer against its operation's response schema: the failures, and how many bodies were checked. */
export function validateAgainstOpenApi(recorded: readonly Recorded[], options: { skipUnknownPaths?: boolean } = {}): { failures: string[]; checked: number } {
  const doc = openApiDocument() as { paths: Record<string, Record<string, { responses: Record<string, { content?: Record<string, unknown> }> }>> };
  const ajv = new Ajv2020({ strict: false, allErrors: true });
  addFormats.default(ajv);
  ajv.addSchema(doc as object, "openapi");
  const template = (method: HttpMethod, path: string) => ENDPOINTS.find((e) => e.method === method && new RegExp(`^${e.path.replace(/\{\w+\}/g, "[^/]+")}$`).test(path))?.path;
  const escape = (s: string) => s.replace(/~/g, "~0").replace(/\//g, "~1");
  const failures: string[] = [];
  let checked = 0;
  for (const r of recorded) {
    const path = template(r.method, r.path);
    if (!path) {
      // Tests of unknown paths and methods (404, 405) ask for it.
      if (!options.skipUnknownPaths) failures.push(`${r.method} ${r.path} matches no endpoint`);
      continue;
    }
    const response = doc.paths[path]![r.method.toLowerCase()]!.responses[String(r.status)];
    if (!response) {
      failures.push(`${r.method} ${path} answered ${r.status}, which the document does not list`);
      continue;
    }
    if (r.status === 204) continue;
    const type = Object.keys(response.content ?? {})[0]!;
    const validate = ajv.getSchema(`openapi#/paths/${escape(path)}/${r.method.toLowerCase()}/responses/${r.status}/content/${escape(type)}/schema`)!;
    if (!validate(r.json)) failures.push(`${r.method} ${path} ${r.status}: ${ajv.errorsText(validate.errors)}`);
    checked++;
  }
  return { failures, checked };
}

/** The tokens the REST tests call with, made by a real owner: read-write and read-only, for every environment and for DEV only. */
export async function restTokens(devId: string): Promise<{ write: string; read: string; devWrite: string; devRead: string }> {
  const { createApiToken } = await import("@/lib/api-tokens");
  const { realMemberCtx } = await import("./fixtures");
  const owner = await realMemberCtx("owner");
  const make = async (name: string, scope: "read" | "write", environmentIds: string[] = []) => (await createApiToken(owner, { name, scope, environmentIds })).token;
  return { write: await make("writer", "write"), read: await make("reader", "read"), devWrite: await make("dev writer", "write", [devId]), devRead: await make("dev reader", "read", [devId]) };
}
