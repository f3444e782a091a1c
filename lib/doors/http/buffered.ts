// Web Requests and Responses whose bodies are already in memory, for the lean server's machine doors.
//
// A door's handler takes a web Request and returns a web Response; the lean server has the whole
// (capped) request body before it calls the handler, and the doors answer small JSON documents.
// Node's Request and Response keep every body as a ReadableStream: building one, reading it back
// (text(), json(), arrayBuffer()) and reading the answer to write it to the socket went through
// web streams and their promises three times a request, about a quarter of the decision endpoint's
// CPU (a V8 profile under load). These subclasses keep the bytes: the body-reading methods answer
// from them, `body` makes a stream only when someone asks for one (the MCP SDK reads the request
// that way), and the lean server writes a BufferedResponse's bytes as they are. Everything else
// (method, url, headers, status, signal, instanceof) is the real Request or Response's own.

import { Readable } from "node:stream";

const encoder = new TextEncoder();
const decoder = new TextDecoder();

function streamOf(bytes: Uint8Array<ArrayBuffer>): ReadableStream<Uint8Array<ArrayBuffer>> {
  return new ReadableStream<Uint8Array<ArrayBuffer>>({
    start(controller) {
      if (bytes.byteLength) controller.enqueue(bytes);
      controller.close();
    },
  });
}

/**
 * The body-reading half both classes share: the bytes until something reads them, once (a second
 * read is a TypeError, as with any body); a `body` stream made on first use, after which reads go
 * through that stream like a real body's.
 */
class Held {
  used = false;
  stream: ReadableStream<Uint8Array<ArrayBuffer>> | null = null;
  constructor(readonly bytes: Uint8Array<ArrayBuffer> | null) {}

  body(): ReadableStream<Uint8Array<ArrayBuffer>> | null {
    if (this.bytes === null) return null;
    this.stream ??= streamOf(this.bytes);
    return this.stream;
  }

  /** Read (or its stream read from), as `bodyUsed`. */
  bodyUsed(): boolean {
    return this.used || (this.stream !== null && Readable.isDisturbed(this.stream as unknown as NodeJS.ReadableStream));
  }

  async take(): Promise<Uint8Array<ArrayBuffer>> {
    // Without a body every read is empty, and may be repeated.
    if (this.bytes === null) return new Uint8Array(0);
    if (this.bodyUsed() || this.stream?.locked) throw new TypeError("Body is unusable: Body has already been read");
    this.used = true;
    if (this.stream) return new Uint8Array(await new Response(this.stream).arrayBuffer());
    return this.bytes;
  }

  async arrayBuffer(): Promise<ArrayBuffer> {
    const bytes = await this.take();
    return bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength) as ArrayBuffer;
  }
  async text(): Promise<string> {
    return decoder.decode(await this.take());
  }
  async blob(type: string | null): Promise<Blob> {
    return new Blob([await this.take()], { type: type ?? "" });
  }
  async formData(type: string | null): Promise<FormData> {
    return new Response(await this.take(), { headers: { "content-type": type ?? "" } }).formData();
  }
}

const held = new WeakMap<Request | Response, Held>();
const own = (body: Request | Response) => held.get(body)!;

export class BufferedRequest extends Request {
  /** `body`: the request's bytes (null for a request without one). `init` must not carry a body. */
  constructor(url: string, init: Omit<RequestInit, "body">, body: Uint8Array<ArrayBuffer> | null) {
    super(url, init);
    held.set(this, new Held(body));
  }

  override clone(): BufferedRequest {
    if (this.bodyUsed) throw new TypeError("Request.clone: Body has already been consumed.");
    const bytes = own(this).bytes;
    return new BufferedRequest(this.url, { method: this.method, headers: this.headers, signal: this.signal }, bytes && bytes.slice());
  }
}

export class BufferedResponse extends Response {
  /** `body`: the whole body, as text or bytes (null for none). */
  constructor(body: string | Uint8Array<ArrayBuffer> | null, init: ResponseInit) {
    super(null, init);
    if (body !== null && [101, 204, 205, 304].includes(this.status)) throw new TypeError(`Response with status ${this.status} cannot have a body.`);
    held.set(this, new Held(typeof body === "string" ? encoder.encode(body) : body));
  }

  /** An answer of JSON (`Response.json`'s counterpart; its Content-Type unless `init` names one). */
  static override json(data: unknown, init: ResponseInit = {}): BufferedResponse {
    const headers = new Headers(init.headers);
    if (!headers.has("content-type")) headers.set("content-type", "application/json");
    const text = JSON.stringify(data);
    if (text === undefined) throw new TypeError("Value is not JSON serializable");
    return new BufferedResponse(text, { ...init, headers });
  }

  /** The bytes to write, while nobody has read them or taken the stream (the lean server's fast path). */
  unreadBytes(): Uint8Array<ArrayBuffer> | null {
    const state = own(this);
    return state.used || state.stream ? null : state.bytes;
  }

  override clone(): BufferedResponse {
    if (this.bodyUsed) throw new TypeError("Response.clone: Body has already been consumed.");
    const bytes = own(this).bytes;
    return new BufferedResponse(bytes && bytes.slice(), { status: this.status, statusText: this.statusText, headers: this.headers });
  }
}

// The body's getters and reading methods, the same on both classes (a class field cannot be shared
// between two base classes): each answers from the instance's Held.
const BODY_MEMBERS = {
  get body(): ReadableStream<Uint8Array<ArrayBuffer>> | null {
    return own(this as unknown as Request).body();
  },
  get bodyUsed(): boolean {
    return own(this as unknown as Request).bodyUsed();
  },
  arrayBuffer(this: Request): Promise<ArrayBuffer> {
    return own(this).arrayBuffer();
  },
  async bytes(this: Request): Promise<Uint8Array<ArrayBuffer>> {
    return new Uint8Array(await own(this).arrayBuffer());
  },
  text(this: Request): Promise<string> {
    return own(this).text();
  },
  async json(this: Request): Promise<unknown> {
    return JSON.parse(await own(this).text());
  },
  blob(this: Request): Promise<Blob> {
    return own(this).blob(this.headers.get("content-type"));
  },
  formData(this: Request): Promise<FormData> {
    return own(this).formData(this.headers.get("content-type"));
  },
};
for (const Class of [BufferedRequest, BufferedResponse]) Object.defineProperties(Class.prototype, Object.getOwnPropertyDescriptors(BODY_MEMBERS));
