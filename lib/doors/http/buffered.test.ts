import { describe, expect, it } from "vitest";
import { BufferedRequest, BufferedResponse } from "./buffered";

// The buffered Request and Response behave as Node's own for everything a handler or a library
// does with a body: each reading method, the `body` stream, reading twice, clone, and a read after
// the stream was taken. Each case runs on the real class and on ours and compares.

const URL_ = "https://iam.example.com/api/v1/authz/check";
const TEXT = JSON.stringify({ token: "a.b.c", environment: "prod", note: "größe ✓" });
const bytesOf = (s: string) => new TextEncoder().encode(s);

const requests = (text: string | null, contentType = "application/json") => ({
  real: new Request(URL_, { method: "POST", headers: { "content-type": contentType }, ...(text === null ? {} : { body: text }) }),
  ours: new BufferedRequest(URL_, { method: "POST", headers: { "content-type": contentType } }, text === null ? null : bytesOf(text)),
});
const responses = (text: string | null, status = 200) => ({
  real: new Response(text, { status, headers: { "content-type": "application/json" } }),
  ours: new BufferedResponse(text, { status, headers: { "content-type": "application/json" } }),
});

async function outcome(read: () => Promise<unknown>): Promise<unknown> {
  try {
    const value = await read();
    if (value instanceof ArrayBuffer) return { bytes: [...new Uint8Array(value)] };
    if (value instanceof Uint8Array) return { bytes: [...value] };
    if (value instanceof Blob) return { blob: value.type, text: await value.text() };
    if (value instanceof FormData) return { form: [...value.entries()] };
    return { value };
  } catch (error) {
    return { error: (error as Error).constructor.name };
  }
}

type Body = Request | Response;
const READS: Record<string, (b: Body) => Promise<unknown>> = {
  text: (b) => b.text(),
  json: (b) => b.json(),
  arrayBuffer: (b) => b.arrayBuffer(),
  bytes: (b) => b.bytes(),
  blob: (b) => b.blob(),
  "body stream": async (b) => (b.body ? new Response(b.body).text() : null),
};

describe("BufferedRequest", () => {
  for (const [name, read] of Object.entries(READS)) {
    it(`${name}() reads as Node's Request does, and a second read fails as it does`, async () => {
      const { real, ours } = requests(TEXT);
      expect(ours.bodyUsed).toBe(false);
      const first = await outcome(() => read(ours));
      expect(first).toEqual(await outcome(() => read(real)));
      expect(first).not.toHaveProperty("error");
      expect([ours.bodyUsed, real.bodyUsed]).toEqual([true, true]);
      const second = await outcome(() => read(ours));
      expect(second).toEqual(await outcome(() => read(real)));
      expect(second).toEqual({ error: "TypeError" });
    });
  }

  it("a request without a body: null body, empty text, as Node's", async () => {
    const { real, ours } = requests(null);
    expect([ours.body, real.body]).toEqual([null, null]);
    expect(await ours.text()).toBe(await real.text());
    expect(await ours.text()).toBe("");
  });

  it("an empty body is a stream with no bytes (not null)", async () => {
    const { real, ours } = requests("");
    expect(ours.body).not.toBeNull();
    expect(await new Response(ours.body).text()).toBe(await new Response(real.body).text());
  });

  it("bytes that are not UTF-8, and a byte order mark, decode as Node's do", async () => {
    const raw = new Uint8Array([0xef, 0xbb, 0xbf, 0x7b, 0xff, 0xc3, 0x7d]);
    const real = new Request(URL_, { method: "POST", body: raw });
    const ours = new BufferedRequest(URL_, { method: "POST" }, raw.slice());
    expect(await ours.text()).toBe(await real.text());
    expect(await new BufferedRequest(URL_, { method: "POST" }, raw.slice()).text()).toBe("{\uFFFD\uFFFD}");
  });

  it("formData() parses a form body", async () => {
    const { real, ours } = requests("a=1&b=zwei", "application/x-www-form-urlencoded");
    expect(await outcome(() => ours.formData())).toEqual(await outcome(() => real.formData()));
    expect(await outcome(() => requests("a=1").ours.formData())).toEqual(await outcome(() => requests("a=1").real.formData()));
  });

  it("once its stream is being read, the reading methods refuse, as Node's do", async () => {
    const { real, ours } = requests(TEXT);
    const readers = [real.body!.getReader(), ours.body!.getReader()];
    expect([real.bodyUsed, ours.bodyUsed]).toEqual([false, false]);
    expect(await outcome(() => ours.text())).toEqual(await outcome(() => real.text()));
    expect(await outcome(() => ours.text())).toEqual({ error: "TypeError" });
    readers.forEach((r) => r.releaseLock());
  });

  it("clone() keeps method, url, headers and its own copy of the body", async () => {
    const { ours } = requests(TEXT);
    const copy = ours.clone();
    expect(copy).toBeInstanceOf(BufferedRequest);
    expect([copy.method, copy.url, copy.headers.get("content-type")]).toEqual(["POST", URL_, "application/json"]);
    expect(await copy.text()).toBe(TEXT);
    expect(await ours.text()).toBe(TEXT);
    expect(() => ours.clone()).toThrow(TypeError);
  });

  it("is a Request (instanceof, headers, method, signal)", () => {
    const { ours } = requests(TEXT);
    expect(ours).toBeInstanceOf(Request);
    expect(ours.signal.aborted).toBe(false);
    expect(ours.headers.get("content-type")).toBe("application/json");
  });
});

describe("BufferedResponse", () => {
  for (const [name, read] of Object.entries(READS)) {
    it(`${name}() reads as Node's Response does, and a second read fails as it does`, async () => {
      const { real, ours } = responses(TEXT);
      const first = await outcome(() => read(ours));
      expect(first).toEqual(await outcome(() => read(real)));
      expect(first).not.toHaveProperty("error");
      expect(await outcome(() => read(ours))).toEqual({ error: "TypeError" });
      expect(await outcome(() => read(real))).toEqual({ error: "TypeError" });
    });
  }

  it("json() matches Response.json: the same body, status, headers and default Content-Type", async () => {
    const data = { decisions: [{ allow: true, reason: "granted" }], name: "größe" };
    const init = { status: 201, headers: { "x-request-id": "r1" } };
    const real = Response.json(data, init);
    const ours = BufferedResponse.json(data, init);
    expect([ours.status, [...ours.headers]]).toEqual([real.status, [...real.headers]]);
    expect(await ours.text()).toBe(await real.text());
    const typed = BufferedResponse.json(data, { headers: { "content-type": "application/scim+json" } });
    expect(typed.headers.get("content-type")).toBe("application/scim+json");
    expect(() => BufferedResponse.json(undefined)).toThrow(TypeError);
  });

  it("a status that has no body refuses one, as Node's does; without one it is null", () => {
    expect(() => new Response("x", { status: 204 })).toThrow(TypeError);
    expect(() => new BufferedResponse("x", { status: 204 })).toThrow(TypeError);
    const empty = new BufferedResponse(null, { status: 204 });
    expect([empty.body, empty.unreadBytes()]).toEqual([null, null]);
  });

  it("unreadBytes() gives the bytes to write until someone reads the body", async () => {
    const { ours } = responses(TEXT);
    expect(new TextDecoder().decode(ours.unreadBytes()!)).toBe(TEXT);
    const copy = ours.clone();
    expect(await copy.text()).toBe(TEXT);
    expect(copy.unreadBytes()).toBeNull();
    expect(ours.unreadBytes()).not.toBeNull();
    void ours.body!.getReader();
    expect(ours.unreadBytes()).toBeNull();
  });

  it("a Response built from its body stream (as Next and the MCP SDK do) has the same bytes", async () => {
    const { ours } = responses(TEXT, 201);
    const rewrapped = new Response(ours.body, ours);
    expect([rewrapped.status, rewrapped.headers.get("content-type"), await rewrapped.text()]).toEqual([201, "application/json", TEXT]);
  });
});
