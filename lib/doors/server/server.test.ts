import { execFile } from "node:child_process";
import { promisify } from "node:util";
import http from "node:http";
import net from "node:net";
import { afterEach, beforeAll, describe, expect, it } from "vitest";
import { sql } from "drizzle-orm";
import { getDb } from "@/db/client";
import { createApiToken } from "@/lib/api-tokens";
import { clientIp } from "@/lib/auth/request-info";
import { hitRateLimit } from "@/lib/rate-limit";
import { createEnvironments, systemCtx } from "@/test-support/fixtures";
import { scimClient } from "@/lib/doors/scim/testing";
import { clientAddress, parseTrustProxy } from "./client-address";
import { serveApp, type LeanServer, type NextHandler } from "./index";

// The lean server in front of Next, started for real on a free port with a stand-in for Next's
// handler (the browser paths): client address and TRUST_PROXY, streamed body limits, request ids,
// machine doors answered without Next, keys before the first request, and a graceful drain.

let envs: Awaited<ReturnType<typeof createEnvironments>>;
beforeAll(async () => {
  envs = await createEnvironments();
});

let running: LeanServer | undefined;
afterEach(async () => {
  await running?.close(1000);
  running = undefined;
});

/** What the stand-in for Next saw: the headers of each request it was handed. */
const seen: http.IncomingHttpHeaders[] = [];
const echoNext: NextHandler = (req, res) => {
  seen.push({ ...req.headers });
  res.setHeader("content-type", "application/json");
  res.end(JSON.stringify({ forwardedFor: req.headers["x-forwarded-for"] ?? null }));
};

async function start(trustProxy = "", next: NextHandler = echoNext) {
  running = await serveApp({ next, trustProxy: parseTrustProxy(trustProxy), port: 0, hostname: "127.0.0.1" });
  return `http://127.0.0.1:${running.port}`;
}

/** A raw HTTP/1.1 exchange (for chunked bodies and headers fetch would not send). */
function raw(port: number, text: string | Buffer): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = net.connect(port, "127.0.0.1", () => socket.write(text));
    let out = "";
    socket.on("data", (d) => (out += d.toString()));
    socket.on("end", () => resolve(out));
    socket.on("close", () => resolve(out));
    socket.on("error", reject);
  });
}

describe("the client address (TRUST_PROXY)", () => {
  it("believes X-Forwarded-For only as far as the trusted hops", () => {
    expect(clientAddress("127.0.0.1", "6.6.6.6", null)).toBe("127.0.0.1");
    expect(clientAddress("::ffff:127.0.0.1", "6.6.6.6", null)).toBe("127.0.0.1");
    expect(clientAddress("127.0.0.1", "6.6.6.6", parseTrustProxy("1"))).toBe("6.6.6.6");
    // A client that sends its own X-Forwarded-For through one proxy: the proxy appended the real one.
    expect(clientAddress("127.0.0.1", "6.6.6.6, 203.0.113.7", parseTrustProxy("1"))).toBe("203.0.113.7");
    expect(clientAddress("10.1.2.3", "6.6.6.6, 203.0.113.7, 10.0.0.9", parseTrustProxy("10.0.0.0/8"))).toBe("203.0.113.7");
    expect(clientAddress("192.0.2.1", "6.6.6.6", parseTrustProxy("10.0.0.0/8"))).toBe("192.0.2.1");
    expect(clientAddress("10.1.2.3", "garbage, 203.0.113.7", parseTrustProxy("10.0.0.0/8"))).toBe("203.0.113.7");
    expect(() => parseTrustProxy("10.0.0.0/33")).toThrow('TRUST_PROXY: "10.0.0.0/33" has a bad prefix length.');
    expect(() => parseTrustProxy("my-proxy")).toThrow('TRUST_PROXY: "my-proxy" is not an address or CIDR range.');
  });

  it("rotating X-Forwarded-For from an untrusted peer does not escape a per-address limit", async () => {
    const key = `test-ip:${crypto.randomUUID()}`;
    const limitedNext: NextHandler = async (req, res) => {
      const limit = await hitRateLimit(`${key}:${clientIp((n) => req.headers[n] as string | undefined)}`, 5, 60);
      res.statusCode = limit.allowed ? 200 : 429;
      res.end();
    };
    const base = await start("", limitedNext);
    const statuses: number[] = [];
    for (let i = 0; i < 8; i++) statuses.push((await fetch(`${base}/e/dev/sign-in`, { headers: { "x-forwarded-for": `198.51.100.${i}` } })).status);
    expect(statuses).toEqual([200, 200, 200, 200, 200, 429, 429, 429]);
  });

  it("records the right address in the audit trail: the peer's when untrusted, the client's behind a trusted hop", async () => {
    const { token } = await createApiToken(systemCtx, { name: "writer", scope: "write" });
    const create = (base: string, email: string) =>
      fetch(`${base}/api/v1/users`, {
        method: "POST",
        headers: { authorization: `Bearer ${token}`, "content-type": "application/json", "x-forwarded-for": "6.6.6.6" },
        body: JSON.stringify({ name: "Addressed", email }),
      });
    const ipOf = async (email: string) => (await getDb().execute<{ ip: string }>(sql`select ip from audit_events where action = 'user.create' and target_label = ${email}`))[0]!.ip;
    let base = await start("");
    expect((await create(base, "untrusted@example.com")).status).toBe(201);
    expect(await ipOf("untrusted@example.com")).toBe("127.0.0.1");
    await running!.close();
    base = await start("127.0.0.1/32");
    expect((await create(base, "trusted@example.com")).status).toBe(201);
    expect(await ipOf("trusted@example.com")).toBe("6.6.6.6");
  });

  it("drops forwarding headers from an untrusted peer before Next sees them", async () => {
    const base = await start("");
    await fetch(`${base}/sign-in`, { headers: { "x-forwarded-host": "evil.example", "x-forwarded-proto": "https", "x-real-ip": "6.6.6.6" } });
    expect(seen.at(-1)).toMatchObject({ "x-forwarded-for": "127.0.0.1" });
    expect(seen.at(-1)!["x-forwarded-host"]).toBeUndefined();
    expect(seen.at(-1)!["x-real-ip"]).toBeUndefined();
  });
});

describe("machine doors and request ids", () => {
  it("answers the machine doors itself (Next never sees them), with a request id and the security headers", async () => {
    const base = await start();
    const before = seen.length;
    const jwks = await fetch(`${base}/.well-known/jwks.json`);
    expect(jwks.status).toBe(200);
    expect(jwks.headers.get("x-request-id")).toMatch(/^[0-9a-f-]{36}$/);
    expect(jwks.headers.get("x-content-type-options")).toBe("nosniff");
    const api = await fetch(`${base}/api/v1/environments`);
    expect(api.status).toBe(401);
    expect(((await api.json()) as { requestId: string }).requestId).toBe(api.headers.get("x-request-id"));
    const wrong = await fetch(`${base}/.well-known/jwks.json`, { method: "POST", body: "{}" });
    expect([wrong.status, wrong.headers.get("allow")]).toEqual([405, "GET, HEAD"]);
    expect(seen.length).toBe(before);
    // Browser paths go to Next, with the same request id header.
    const page = await fetch(`${base}/sign-in`);
    expect(seen.at(-1)!["x-request-id"]).toBe(page.headers.get("x-request-id"));
  });
});

describe("idle connections", () => {
  it("keeps a client's idle connection longer than clients keep theirs, and says so, on machine doors and browser paths alike", async () => {
    // Clients keep idle connections for reuse (Playwright's request context, directories' SCIM
    // clients, load balancers for about 60 s). Node closes them after 5 s: a request sent on a
    // connection just as the server closes it fails with ECONNRESET (an e2e run did).
    const base = await start();
    for (const path of ["/.well-known/jwks.json", "/sign-in"]) {
      const res = await new Promise<http.IncomingMessage>((resolve, reject) => {
        const agent = new http.Agent({ keepAlive: true });
        http.get(`${base}${path}`, { agent }, (r) => {
          r.resume();
          r.on("end", () => agent.destroy());
          resolve(r);
        }).on("error", reject);
      });
      expect([path, res.headers.connection, res.headers["keep-alive"]]).toEqual([path, "keep-alive", "timeout=65"]);
    }
  });
});

describe("client input never makes the server answer 500", () => {
  it("refuses what no door or page can take with 400 and the reason, before Next or a door sees it: bad percent-encoding, NUL in the target or a JSON or form body, an asterisk target", async () => {
    const base = await start();
    const port = Number(new URL(base).port);
    const status = (answer: string) => answer.match(/^HTTP\/1\.1 (\d+) /)?.[1];
    const detail = (answer: string) => (JSON.parse(answer.slice(answer.indexOf("\r\n\r\n") + 4)) as { detail: string }).detail;
    const before = seen.length;
    for (const path of ["/scim/v2/%E0%A4%A/Users", "/api/v1/users/%E0%A4%A", "/console/%ZZ/users", "/e/%ZZ/sso"]) {
      const answer = await raw(port, `GET ${path} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n`);
      expect([path, status(answer), detail(answer)]).toEqual([path, "400", "The path is not valid percent-encoding."]);
    }
    const nul = "The request carries a NUL character (U+0000), which no field accepts.";
    for (const path of ["/api/v1/users?q=%00", "/console/dev/users?q=%00", "/e/dev/oauth/authorize?client_id=%00", "/api/v1/environments/%00"]) {
      const answer = await raw(port, `GET ${path} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n`);
      expect([path, status(answer), detail(answer)]).toEqual([path, "400", nul]);
    }
    const json = '{"email":"nul@example.com","name":"x\\u0000y"}';
    const post = await raw(port, `POST /api/v1/users HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\nContent-Length: ${json.length}\r\nConnection: close\r\n\r\n${json}`);
    expect([status(post), detail(post)]).toEqual(["400", nul]);
    const form = "grant_type=authorization_code&code=%00&client_id=x";
    const token = await raw(port, `POST /e/dev/oauth/token HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: ${form.length}\r\nConnection: close\r\n\r\n${form}`);
    expect([status(token), detail(token)]).toEqual(["400", nul]);
    // A body with no type is read as JSON (SCIM takes one); JSON text that only names \u0000 (an escaped backslash) is no NUL.
    const untyped = '{"userName":"a\\u0000b"}';
    const scimPost = await raw(port, `POST /scim/v2/00000000-0000-4000-8000-000000000000/Users HTTP/1.1\r\nHost: localhost\r\nContent-Length: ${untyped.length}\r\nConnection: close\r\n\r\n${untyped}`);
    expect([status(scimPost), detail(scimPost)]).toEqual(["400", nul]);
    const text = '{"message":"In JS, write \\\\u0000 for NUL"}';
    const named = await raw(port, `POST /api/v1/users HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\nContent-Length: ${text.length}\r\nConnection: close\r\n\r\n${text}`);
    expect(status(named)).toBe("401");
    expect(status(await raw(port, `OPTIONS * HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n`))).toBe("204");
    const star = await raw(port, `GET * HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n`);
    expect([status(star), detail(star)]).toEqual(["400", "The request target * is only for OPTIONS."]);
    expect(seen.length).toBe(before);
    // A Host header that is not a host still gets an answer (the public origin is configured, not read from it).
    const host = await raw(port, `GET /.well-known/jwks.json HTTP/1.1\r\nHost: bad host/x#\r\nConnection: close\r\n\r\n`);
    expect(host).toMatch(/^HTTP\/1\.1 (200|400) /);
  });
});

describe("text no field can hold, and refusals in the door's own shape", () => {
  it("refuses a JSON body that is not UTF-8 or holds a lone surrogate (a decoder would have stored U+FFFD and answered what was not stored); SCIM clients get SCIM errors", async () => {
    const scim = await scimClient(envs.dev);
    const base = await start();
    const port = Number(new URL(base).port);
    const users = async () => (await getDb().execute<{ n: number }>(sql`select count(*)::int as n from users`))[0]!.n;
    const before = await users();
    const post = (path: string, body: Buffer, type = "application/scim+json") =>
      raw(port, Buffer.concat([Buffer.from(`POST ${path} HTTP/1.1\r\nHost: localhost\r\nAuthorization: Bearer ${scim.token}\r\nContent-Type: ${type}\r\nContent-Length: ${body.length}\r\nConnection: close\r\n\r\n`), body]));
    const answerOf = (answer: string) => ({
      status: answer.match(/^HTTP\/1\.1 (\d+) /)?.[1],
      type: answer.match(/\r\ncontent-type: ([^\r]+)/i)?.[1],
      body: JSON.parse(answer.slice(answer.indexOf("\r\n\r\n") + 4)) as Record<string, unknown>,
    });
    const scimError = (status: string, detail: string, scimType?: string) => ({
      status,
      type: "application/scim+json",
      body: { schemas: ["urn:ietf:params:scim:api:messages:2.0:Error"], status, ...(scimType ? { scimType } : {}), detail },
    });
    const usersPath = `/scim/v2/${scim.directory.id}/Users`;
    const invalid = Buffer.concat([Buffer.from('{"userName":"bad'), Buffer.from([0xff, 0xfe]), Buffer.from('@corp.example"}')]);
    expect(answerOf(await post(usersPath, invalid))).toEqual(scimError("400", "The body is not valid UTF-8 text.", "invalidValue"));
    const utf16 = Buffer.from('{"userName":"wide@corp.example"}', "utf16le");
    expect(answerOf(await post(usersPath, utf16))).toEqual(scimError("400", "The body is not valid UTF-8 text.", "invalidValue"));
    const lone = "The body holds a lone UTF-16 surrogate (a \\ud800–\\udfff escape without its pair), which is not a character.";
    for (const text of ['{"userName":"sur\\ud800x@corp.example"}', '{"userName":"low@corp.example","title":"a\\udc00b"}', '{"userName":"key@corp.example","\\ud800":1}']) {
      expect(answerOf(await post(usersPath, Buffer.from(text)))).toEqual(scimError("400", lone, "invalidValue"));
    }
    // Nested deeper than a recursive walk could go (it overflowed the stack: a 500, before any token was read).
    const deep = Buffer.from(`${"[".repeat(200_000)}"\\ud800"${"]".repeat(200_000)}`);
    expect(answerOf(await post(usersPath, deep))).toEqual(scimError("400", lone, "invalidValue"));
    // An escaped backslash before "ud800" is text, no surrogate.
    const text = answerOf(await post(usersPath, Buffer.from('{"userName":"escaped@corp.example","title":"a \\\\ud800 b"}')));
    expect([text.status, text.body.title]).toEqual(["201", "a \\ud800 b"]);
    // The REST API refuses the same, in its own shape.
    const rest = answerOf(await post("/api/v1/users", Buffer.from('{"email":"rest@example.com","name":"x\\udfffy"}'), "application/json"));
    expect([rest.status, rest.type, rest.body.detail]).toEqual(["400", "application/problem+json", lone]);
    // Every other refusal of the server's own on a SCIM path is a SCIM error too.
    expect(answerOf(await post(usersPath, Buffer.from('{"userName":"a\\u0000b"}')))).toEqual(scimError("400", "The request carries a NUL character (U+0000), which no field accepts.", "invalidValue"));
    expect(answerOf(await raw(port, `OPTIONS ${usersPath} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n`))).toEqual(scimError("405", "OPTIONS is not allowed here."));
    expect(answerOf(await raw(port, `GET /scim/v2/${scim.directory.id}/Users/%ZZ HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n`))).toEqual(scimError("400", "The path is not valid percent-encoding."));
    expect(answerOf(await post(usersPath, Buffer.from(JSON.stringify({ userName: "big@corp.example", title: "x".repeat(1024 * 1024) }))))).toEqual(scimError("413", "The body may have at most 1048576 bytes."));
    expect(await users()).toBe(before + 1);
    // A client asking for an MCP server's metadata with a malformed id gets JSON, not Next's page.
    const metadata = answerOf(await raw(port, `GET /.well-known/oauth-protected-resource/mcp/not-an-id HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n`));
    expect([metadata.status, metadata.type, metadata.body]).toEqual(["404", "application/json", { error: "not_found", message: "No such MCP server." }]);
    // A pair of escapes is a character (an emoji), and goes through.
    const paired = answerOf(await post(usersPath, Buffer.from('{"userName":"pair@corp.example","displayName":"Smile \\ud83d\\ude00"}')));
    expect([paired.status, paired.body.displayName]).toEqual(["201", "Smile 😀"]);
  });
});

describe("a client that goes away", () => {
  it("mid-body is not logged as a failure of ours, and the server goes on answering", async () => {
    const lines: string[] = [];
    running = await serveApp({ next: echoNext, trustProxy: null, port: 0, hostname: "127.0.0.1", log: (line) => lines.push(line) });
    const scim = await scimClient(envs.dev);
    await new Promise<void>((resolve) => {
      const socket = net.connect(running!.port, "127.0.0.1", () => {
        socket.write(`POST /scim/v2/${scim.directory.id}/Users HTTP/1.1\r\nHost: localhost\r\nAuthorization: Bearer ${scim.token}\r\nContent-Type: application/scim+json\r\nTransfer-Encoding: chunked\r\n\r\n10\r\n{"userName":"cut`);
        // Gone once the server has begun reading the body.
        setImmediate(() => socket.destroy());
      });
      socket.on("close", () => resolve());
    });
    // The next request is answered once the server has seen the close (no fixed wait: it is queued behind it).
    expect((await fetch(`http://127.0.0.1:${running.port}/healthz`)).status).toBe(200);
    await running.close(1000);
    running = undefined;
    expect(lines.filter((l) => l.includes("failed"))).toEqual([]);
  });
});

describe("HEAD", () => {
  it("is answered wherever GET is, with the GET's status and headers and no body; a 405 lists it", async () => {
    const base = await start();
    const port = Number(new URL(base).port);
    for (const path of ["/healthz", "/.well-known/jwks.json"]) {
      const answer = await raw(port, `HEAD ${path} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n`);
      expect([path, answer.slice(0, 13), /\r\ncontent-type: application\/[\w+-]*json/i.test(answer), answer.endsWith("\r\n\r\n")]).toEqual([path, "HTTP/1.1 200 ", true, true]);
    }
    const put = await fetch(`${base}/.well-known/jwks.json`, { method: "PUT" });
    expect([put.status, put.headers.get("allow"), (await put.json()).title]).toEqual([405, "GET, HEAD", "Method not allowed"]);
  });
});

describe("body limits, enforced while the body streams in", () => {
  it("caps the small browser doors too (an end user's token request, starting console SSO)", async () => {
    const base = await start();
    const chunk = "z".repeat(32 * 1024);
    const body = Array.from({ length: 4 }, () => `${chunk.length.toString(16)}\r\n${chunk}\r\n`).join("");
    const before = seen.length;
    for (const path of ["/e/dev/token", "/sign-in/sso"]) {
      const answer = await raw(Number(new URL(base).port), `POST ${path} HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n${body}0\r\n\r\n`);
      expect([path, answer.slice(0, 13)]).toEqual([path, "HTTP/1.1 413 "]);
    }
    expect(seen.length).toBe(before);
  });

  it("cuts a chunked SCIM body with no Content-Length at the limit with 413, writing nothing", async () => {
    const scim = await scimClient(envs.dev);
    const base = await start();
    const port = Number(new URL(base).port);
    const before = (await getDb().execute<{ n: number }>(sql`select count(*)::int as n from users`))[0]!.n;
    const chunk = "x".repeat(64 * 1024);
    const chunks = Array.from({ length: 20 }, () => `${chunk.length.toString(16)}\r\n${chunk}\r\n`).join("");
    const answer = await raw(
      port,
      `POST /scim/v2/${scim.directory.id}/Users HTTP/1.1\r\nHost: localhost\r\nAuthorization: Bearer ${scim.token}\r\nContent-Type: application/scim+json\r\nTransfer-Encoding: chunked\r\n\r\n${chunks}0\r\n\r\n`,
    );
    expect(answer).toMatch(/^HTTP\/1\.1 413 /);
    expect(answer).toContain("The body may have at most 1048576 bytes.");
    expect((await getDb().execute<{ n: number }>(sql`select count(*)::int as n from users`))[0]!.n).toBe(before);
  });

  it("answers Expect: 100-continue with 413 at once when the declared length is over the limit, and with 100 Continue otherwise", async () => {
    const scim = await scimClient(envs.dev);
    const base = await start();
    const port = Number(new URL(base).port);
    const before = (await getDb().execute<{ n: number }>(sql`select count(*)::int as n from users`))[0]!.n;
    // No body is sent: a server that said 100 Continue would wait for it, and this would not end.
    const refused = await raw(
      port,
      `POST /scim/v2/${scim.directory.id}/Users HTTP/1.1\r\nHost: localhost\r\nAuthorization: Bearer ${scim.token}\r\nContent-Type: application/scim+json\r\nExpect: 100-continue\r\nContent-Length: 2000000\r\n\r\n`,
    );
    expect(refused).toMatch(/^HTTP\/1\.1 413 /);
    expect(refused).not.toContain("100 Continue");
    expect(refused).toContain("The body may have at most 1048576 bytes.");
    expect(refused.toLowerCase()).toContain("connection: close");
    // The same for a browser door Next answers (the SAML ACS) and for a refusal before any body.
    const acs = await raw(port, `POST /api/sso/acs HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/x-www-form-urlencoded\r\nExpect: 100-continue\r\nContent-Length: 50000000\r\n\r\n`);
    expect(acs).toMatch(/^HTTP\/1\.1 413 /);
    const notAllowed = await raw(port, `PUT /.well-known/jwks.json HTTP/1.1\r\nHost: localhost\r\nExpect: 100-continue\r\nContent-Length: 10\r\n\r\n`);
    expect(notAllowed).toMatch(/^HTTP\/1\.1 405 /);
    expect(notAllowed).not.toContain("100 Continue");
    expect(notAllowed.toLowerCase()).toContain("connection: close");
    expect((await getDb().execute<{ n: number }>(sql`select count(*)::int as n from users`))[0]!.n).toBe(before);

    // Within the limit: told to go on, then answered.
    const body = JSON.stringify({ userName: "expect.continue@example.com", emails: [{ value: "expect.continue@example.com", primary: true }] });
    const created = await new Promise<{ continued: boolean; status: number }>((resolve, reject) => {
      let continued = false;
      const req = http.request(`${base}/scim/v2/${scim.directory.id}/Users`, {
        method: "POST",
        headers: { authorization: `Bearer ${scim.token}`, "content-type": "application/scim+json", expect: "100-continue", "content-length": Buffer.byteLength(body) },
      });
      req.on("continue", () => {
        continued = true;
        req.end(body);
      });
      req.on("response", (res) => {
        res.resume();
        res.on("end", () => resolve({ continued, status: res.statusCode! }));
      });
      req.on("error", reject);
    });
    expect(created).toEqual({ continued: true, status: 201 });
  });

  it("reads an over-limit body to its end before refusing it, so a client that sends it all first (most HTTP libraries) gets the 413 and its reason, not a reset", async () => {
    const scim = await scimClient(envs.dev);
    const base = await start();
    const before = (await getDb().execute<{ n: number }>(sql`select count(*)::int as n from users`))[0]!.n;
    // Python's http.client, as a directory's sync script would use it: it sends the whole body, then reads.
    const script = `
import http.client, json, sys
body = b"a" * 5_000_000
for chunked in (False, True, False, True):
    c = http.client.HTTPConnection("127.0.0.1", ${Number(new URL(base).port)})
    try:
        headers = {"authorization": "Bearer ${scim.token}", "content-type": "application/scim+json"}
        if chunked:
            c.request("POST", "/scim/v2/${scim.directory.id}/Users", body=iter([body[i:i + 262144] for i in range(0, len(body), 262144)]), headers=headers, encode_chunked=True)
        else:
            c.request("POST", "/scim/v2/${scim.directory.id}/Users", body=body, headers=headers)
        r = c.getresponse()
        print(r.status, json.loads(r.read())["detail"])
    except Exception as e:
        print("error", type(e).__name__)
`;
    // (Not spawnSync: the server answers in this process.)
    const { stdout } = await promisify(execFile)("python3", ["-c", script], { encoding: "utf8" });
    expect(stdout.trim().split("\n")).toEqual(Array(4).fill("413 The body may have at most 1048576 bytes."));
    expect((await getDb().execute<{ n: number }>(sql`select count(*)::int as n from users`))[0]!.n).toBe(before);
  });

  it("cuts a chunked body to the SAML ACS before Next reads it, and hands a small one on whole", async () => {
    const base = await start();
    const port = Number(new URL(base).port);
    const before = seen.length;
    const chunk = "y".repeat(128 * 1024);
    const big = Array.from({ length: 6 }, () => `${chunk.length.toString(16)}\r\n${chunk}\r\n`).join("");
    const cut = await raw(port, `POST /api/sso/acs HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/x-www-form-urlencoded\r\nTransfer-Encoding: chunked\r\n\r\n${big}0\r\n\r\n`);
    expect(cut).toMatch(/^HTTP\/1\.1 413 /);
    expect(seen.length).toBe(before);
    let body = "";
    const readingNext: NextHandler = async (req, res) => {
      for await (const c of req) body += c;
      res.end("ok");
    };
    await running!.close();
    const base2 = await start("", readingNext);
    const ok = await raw(Number(new URL(base2).port), `POST /api/sso/acs HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\nContent-Type: application/x-www-form-urlencoded\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n`);
    expect(ok).toMatch(/^HTTP\/1\.1 200 /);
    expect(body).toBe("hello");
  });
});

describe("start and stop", () => {
  it("listens only once the signing keys exist: a JWKS request racing the start never gets an empty key set", async () => {
    await getDb().execute(sql`delete from signing_keys`);
    const port = await new Promise<number>((resolve) => {
      const probe = net.createServer().listen(0, "127.0.0.1", () => {
        const p = (probe.address() as net.AddressInfo).port;
        probe.close(() => resolve(p));
      });
    });
    // Ask before the server exists and keep asking until it answers.
    const firstAnswer = (async () => {
      for (;;) {
        try {
          return (await (await fetch(`http://127.0.0.1:${port}/.well-known/jwks.json`)).json()) as { keys: unknown[] };
        } catch {
          await new Promise((r) => setImmediate(r));
        }
      }
    })();
    running = await serveApp({ next: echoNext, trustProxy: null, port, hostname: "127.0.0.1" });
    expect((await firstAnswer).keys.length).toBeGreaterThan(0);
  });

  it("a graceful stop under load lets every request in flight finish, refusing new connections meanwhile", async () => {
    const N = 24;
    let release!: () => void;
    const held = new Promise<void>((r) => (release = r));
    let entered = 0;
    let allInside!: () => void;
    const inside = new Promise<void>((r) => (allInside = r));
    const slowNext: NextHandler = async (req, res) => {
      if (++entered === N) allInside();
      await held;
      res.end(`finished ${req.url}`);
    };
    const base = await start("", slowNext);
    const inFlight = Array.from({ length: N }, (_, i) => fetch(`${base}/slow/${i}`).then(async (r) => `${r.status} ${await r.text()}`));
    await inside;
    expect(running!.inFlight()).toBe(N);
    let closed = false;
    const closing = running!.close(30_000).then(() => (closed = true));
    await expect(fetch(`${base}/other`)).rejects.toThrow();
    expect(closed).toBe(false);
    release();
    expect(await Promise.all(inFlight)).toEqual(Array.from({ length: N }, (_, i) => `200 finished /slow/${i}`));
    await closing;
    expect(closed).toBe(true);
    running = undefined;
  });
});
