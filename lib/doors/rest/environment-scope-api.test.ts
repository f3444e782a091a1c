import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { env as config } from "@/env";
import type { Environment } from "@/db/schema";
import { createEnvironments, databaseFingerprint } from "@/test-support/fixtures";
import { restClient, restTokens, validateAgainstOpenApi } from "@/test-support/rest-api";
import { createProdRows, endpointCases, NAME_ONE, type ProdRows } from "@/test-support/rest-cases";
import { ENDPOINTS, type HttpMethod } from "./v1";

// Every endpoint of the table, called by tokens limited to DEV against real PROD rows (a PROD user,
// group, resource, grant, directory, review, access request and exclusion, an IdP mapped into PROD):
// each is refused with the reason the permission table gives (outside your scope, account-wide, or
// "name an environment"), or answers when the token may read it, and nothing in the database changes.
// Placeholder ids would 404 before the scope check, so every case points at a row that exists
// (test-support/rest-cases.ts holds the requests and what a DEV token gets).

let env: { dev: Environment; test: Environment; prod: Environment };
const tokens = { write: "", read: "", devWrite: "", devRead: "" };
let rows: ProdRows;
let document: unknown;
const { api, recorded } = restClient(() => tokens.write);

beforeAll(async () => {
  env = await createEnvironments();
  (config() as { ALLOW_PRIVATE_WEBHOOK_URLS: boolean }).ALLOW_PRIVATE_WEBHOOK_URLS = true;
  Object.assign(tokens, await restTokens(env.dev.id));
  ({ rows, document } = await createProdRows(api, env));
});
afterAll(() => {
  (config() as { ALLOW_PRIVATE_WEBHOOK_URLS: boolean }).ALLOW_PRIVATE_WEBHOOK_URLS = false;
});

const cases = () => endpointCases(rows, env, document);

describe("tokens limited to DEV, against PROD", () => {
  it("has a case for every endpoint of the table", () => {
    expect(Object.keys(cases()).sort()).toEqual(ENDPOINTS.map((e) => `${e.method} ${e.path}`).sort());
  });

  it("refuses each endpoint with its reason (or answers an account-wide read), and nothing changes", async () => {
    const before = await databaseFingerprint();
    const wrong: string[] = [];
    for (const [name, c] of Object.entries(cases())) {
      const method = name.split(" ")[0] as HttpMethod;
      // Reads are asked with both DEV tokens; writes with the one that may write.
      for (const token of method === "GET" ? [tokens.devRead, tokens.devWrite] : [tokens.devWrite]) {
        const answer = await api(method, c.path, { token, body: c.body });
        const got = answer.status === 403 ? answer.json.detail : answer.status;
        if (got !== c.devToken) wrong.push(`${name}: ${answer.status} ${answer.json?.detail ?? ""}`);
      }
    }
    expect(wrong).toEqual([]);
    expect(await databaseFingerprint()).toEqual(before);
  }, 120_000);

  it("asks lists that may span environments to name one of the token's", async () => {
    // The other lists need ?environment= from every caller (a 400 that names the parameter); an
    // IdP's traces without one are those of the token's environments (sso-api.test.ts).
    const lists = ["/users", "/audit-events"];
    const answers = await Promise.all(lists.map(async (path) => [path, (await api("GET", path, { token: tokens.devRead })).json.detail]));
    expect(answers).toEqual(lists.map((path) => [path, NAME_ONE]));
  });

  it("answers the same reads for DEV, within the token's scope", async () => {
    const lists = ["/users", "/groups", "/resources", "/grants", "/directories", "/access-reviews", "/access-requests", "/audit-events"];
    const answers = await Promise.all(lists.map(async (path) => [path, (await api("GET", `${path}?environment=dev`, { token: tokens.devRead })).status]));
    expect(answers).toEqual(lists.map((path) => [path, 200]));
  });

  it("recorded answers that match the OpenAPI document", () => {
    const { failures, checked } = validateAgainstOpenApi(recorded);
    expect(failures).toEqual([]);
    expect(checked).toBeGreaterThan(100);
  });
});

describe("a token limited to DEV, and the users it meets", () => {
  it("cannot grant DEV to a user no environment holds or to a PROD user (their account would pass into its hands), and reads only DEV of a user", async () => {
    const make = async (email: string, environmentIds: string[]) => (await api("POST", "/users", { body: { name: email.split("@")[0], email, environmentIds } })).json.id as string;
    const wide = await make("wide@scope.example", []);
    const prodUser = await make("prod@scope.example", [env.prod.id]);
    const both = await make("both@scope.example", [env.dev.id, env.prod.id]);
    const before = await databaseFingerprint();
    const grantWide = await api("PUT", `/users/${wide}/environments/dev`, { token: tokens.devWrite });
    // The token reads nothing of a user outside DEV: the refusal tells it no more (an admin is told who can: lib/users/users.test.ts).
    expect([grantWide.status, grantWide.json.detail]).toEqual([403, "This change is account-wide; it needs an owner or admin."]);
    const grantProd = await api("PUT", `/users/${prodUser}/environments/dev`, { token: tokens.devWrite });
    expect([grantProd.status, grantProd.json.detail]).toEqual([403, "This change touches an environment outside your scope."]);
    // A grant names only users of its environment (it was written, and read back with the user's email).
    const grant = await api("POST", "/grants", { token: tokens.devWrite, body: { environment: "dev", feature: "workato_go", userIds: [prodUser] } });
    expect([grant.status, grant.json.errors]).toEqual([400, { userIds: [`These users cannot enter dev; grant them the environment first: ${prodUser}.`] }]);
    expect(await databaseFingerprint()).toEqual(before);
    // An account-wide token may; granting again what the user has is no change, for the DEV token too.
    expect((await api("PUT", `/users/${prodUser}/environments/dev`)).json).toEqual({ changed: true });
    expect((await api("PUT", `/users/${prodUser}/environments/dev`, { token: tokens.devWrite })).json).toEqual({ changed: false });

    // Reading a user of DEV and PROD: DEV's access and groups only.
    const full = await api("GET", `/users/${both}`);
    expect(full.json.environments.map((e: { key: string }) => e.key)).toEqual(["dev", "prod"]);
    expect(full.json.groups.map((g: { environment: string }) => g.environment).sort()).toEqual(["dev", "prod"]);
    const read = await api("GET", `/users/${both}`, { token: tokens.devRead });
    expect([read.json.environments, read.json.groups.map((g: { environment: string; name: string }) => `${g.environment}/${g.name}`)]).toEqual([[{ key: "dev", source: "manual" }], ["dev/Everyone"]]);
    const list = await api("GET", `/users?environment=dev&q=both%40scope.example`, { token: tokens.devRead });
    expect(list.json.data.map((u: { environments: string[] }) => u.environments)).toEqual([["dev"]]);
    expect((await api("GET", `/users?environment=dev&q=both%40scope.example`)).json.data.map((u: { environments: string[] }) => u.environments)).toEqual([["dev", "prod"]]);
    // A DEV group's members read the same way (it listed every environment of each member).
    const everyone = (await api("GET", "/groups?environment=dev&q=Everyone")).json.data[0].id;
    const members = (path: string, token?: string) => api("GET", path, { token }).then((r) => r.json.data.filter((u: { email: string }) => u.email === "both@scope.example").map((u: { environments: string[] }) => u.environments));
    expect(await members(`/groups/${everyone}/members?q=both%40scope.example`, tokens.devRead)).toEqual([["dev"]]);
    expect(await members(`/groups/${everyone}/members?q=both%40scope.example`)).toEqual([["dev", "prod"]]);

    // The same id in two cases is one id.
    const twice = await api("POST", "/grants", { body: { environment: "dev", feature: "agent_studio", userIds: [both, both.toUpperCase()] } });
    expect([twice.status, twice.json.added]).toEqual([201, 1]);
  });
});
