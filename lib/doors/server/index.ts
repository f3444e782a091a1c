import crypto from "node:crypto";
import http, { type IncomingMessage, type ServerResponse } from "node:http";
import { isUtf8 } from "node:buffer";
import { Readable } from "node:stream";
import { problem } from "@/lib/doors/http/problem";
import { BufferedRequest, BufferedResponse } from "@/lib/doors/http/buffered";
import { jsonStrings } from "@/lib/doors/http/json-strings";
import { publicOrigin } from "@/env";
import { ensureSigningKeys } from "@/lib/tokens/keys";
import { STATIC_SECURITY_HEADERS } from "@/lib/doors/http/security-headers";
import { clientAddress, isTrustedPeer, type TrustProxy } from "./client-address";
import { CAPPED_NEXT_PATHS, machineRoute, type Refuse } from "./routes";

// The one server on the one port: machine doors (SCIM, the REST API with the decision endpoint,
// JWKS and issuer metadata, MCP servers, genies) are answered here by their handlers, without
// Next's router; every other request goes to Next (`next({ dev })`'s request handler, the custom
// server mode Next documents). Owning the socket makes this the one place for: the client address
// (X-Forwarded-For only from trusted hops), body limits enforced while the body streams in, a
// request id on every response, and a graceful stop that lets requests in flight finish.

export type NextHandler = (req: IncomingMessage, res: ServerResponse) => Promise<void> | void;

export type LeanServerOptions = {
  next: NextHandler;
  trustProxy: TrustProxy;
  log?: (line: string) => void;
};

export type LeanServer = {
  server: http.Server;
  /** The port it listens on (after listen). */
  port: number;
  listen(port: number, hostname?: string): Promise<number>;
  /** Stops accepting, waits (up to `timeoutMs`) for requests in flight, then closes every connection. */
  close(timeoutMs?: number): Promise<void>;
  inFlight(): number;
};

const FORWARDING_HEADERS = ["x-forwarded-host", "x-forwarded-proto", "x-forwarded-port", "x-real-ip", "forwarded"];

class BodyTooLarge extends Error {}

// Requests that sent `Expect: 100-continue` and have not been told to go on. Node answers
// `100 Continue` at once unless the server listens for `checkContinue`; this one does, so that a
// body it would refuse by its declared length gets its 413 instead, before the client sends it.
const awaitingContinue = new WeakSet<IncomingMessage>();

/** Tells a client that waits for `100 Continue` to send its body (once; nothing for other clients). */
function letBodyCome(req: IncomingMessage, res: ServerResponse) {
  if (awaitingContinue.delete(req)) res.writeContinue();
}

// A body over its limit is read to its end (and dropped) before the 413 goes out, up to these
// bounds: a client that sends the whole body before it reads the answer (most HTTP libraries) would
// otherwise meet a closed connection (EPIPE, ECONNRESET) instead of the 413 and its reason.
const DRAIN_BYTES = 32 * 1024 * 1024;
const DRAIN_MS = 10_000;

/**
 * Reads the body into memory, refusing it (BodyTooLarge) once it passes `max` bytes, chunked bodies
 * too: what comes after the limit is read and dropped until the body ends, at most DRAIN_BYTES or
 * DRAIN_MS, so that the client is there to read the refusal. A declared length over the limit is
 * refused at once when the client waits for `100 Continue` (it has sent nothing) or when it is
 * beyond what would be drained.
 */
function readCapped(req: IncomingMessage, res: ServerResponse, max: number): Promise<Buffer> {
  const declared = Number(req.headers["content-length"] ?? NaN);
  const declaredOver = Number.isFinite(declared) && declared > max;
  if (declaredOver && (awaitingContinue.has(req) || declared > DRAIN_BYTES)) return Promise.reject(new BodyTooLarge());
  letBodyCome(req, res);
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    let timer: NodeJS.Timeout | undefined;
    const settle = (outcome: () => void) => {
      req.off("data", onData).off("end", onEnd).off("close", onClose);
      if (timer) clearTimeout(timer);
      outcome();
    };
    const refuse = () => settle(() => reject(new BodyTooLarge()));
    const over = () => declaredOver || size > max;
    const onData = (chunk: Buffer) => {
      size += chunk.length;
      if (!over()) return void chunks.push(chunk);
      chunks.length = 0;
      timer ??= setTimeout(refuse, DRAIN_MS).unref();
      if (size > DRAIN_BYTES) refuse();
    };
    const onEnd = () => (over() ? refuse() : settle(() => resolve(Buffer.concat(chunks, size))));
    // The client went away mid-body (the caller sees the request destroyed and answers nothing).
    const onClose = () => settle(() => reject(new Error("The client closed the connection before the body ended.")));
    req.on("data", onData).on("end", onEnd).on("close", onClose);
    if (over()) timer = setTimeout(refuse, DRAIN_MS).unref();
  });
}

function tooLarge(res: ServerResponse, max: number, requestId: string, refuse: Refuse = problem) {
  // Answer, then close the connection (whatever of the body readCapped did not drain may still come).
  res.shouldKeepAlive = false;
  void send(res, refuse(413, `The body may have at most ${max} bytes.`, { code: "body_too_large", requestId, headers: { connection: "close" } }));
}

async function send(res: ServerResponse, response: Response): Promise<void> {
  const headers: Record<string, string | string[]> = { ...STATIC_SECURITY_HEADERS };
  response.headers.forEach((value, key) => {
    if (key !== "set-cookie") headers[key] = value;
  });
  // A client still waiting to be told to send its body is answered without it: the connection
  // cannot carry another request after a body that may still come.
  if (awaitingContinue.has(res.req)) {
    res.shouldKeepAlive = false;
    headers.connection = "close";
  }
  const cookies = response.headers.getSetCookie();
  if (cookies.length) headers["set-cookie"] = cookies;
  // A door's JSON answer already in memory (BufferedResponse) is written as it is; other answers
  // are small JSON documents, read and written in one go; only an event stream (an MCP server's
  // SSE answer) is piped as it comes.
  const buffered = response instanceof BufferedResponse ? response.unreadBytes() : null;
  if (!buffered && !response.body) {
    res.writeHead(response.status, headers);
    return void res.end();
  }
  if (buffered || !(headers["content-type"] as string | undefined)?.includes("text/event-stream")) {
    const body = buffered ?? Buffer.from(await response.arrayBuffer());
    headers["content-length"] = String(body.byteLength);
    res.writeHead(response.status, headers);
    return void res.end(body);
  }
  res.writeHead(response.status, headers);
  await new Promise<void>((resolve) => {
    const body = Readable.fromWeb(response.body as import("node:stream/web").ReadableStream);
    body.on("error", () => {
      res.destroy();
      resolve();
    });
    res.on("close", resolve);
    body.pipe(res);
  });
}

/** A copy of `req` whose body is `body` (already read and capped), for Next to read again. */
function replay(req: IncomingMessage, body: Buffer): IncomingMessage {
  const copy = new http.IncomingMessage(req.socket);
  copy.method = req.method;
  copy.url = req.url;
  copy.httpVersion = req.httpVersion;
  copy.httpVersionMajor = req.httpVersionMajor;
  copy.httpVersionMinor = req.httpVersionMinor;
  const headers = { ...req.headers, "content-length": String(body.length) };
  delete headers["transfer-encoding"];
  copy.headers = headers;
  copy.rawHeaders = Object.entries(headers).flatMap(([k, v]) => (Array.isArray(v) ? v.flatMap((x) => [k, x]) : [k, String(v)]));
  // Read in full already: without `complete`, ending the copy would count as an aborted request
  // and destroy the socket before Next answers.
  copy.complete = true;
  copy.push(body);
  copy.push(null);
  return copy;
}

const NUL_REFUSAL = "The request carries a NUL character (U+0000), which no field accepts.";
const NOT_UTF8 = "The body is not valid UTF-8 text.";
const LONE_SURROGATE = "The body holds a lone UTF-16 surrogate (a \\ud800–\\udfff escape without its pair), which is not a character.";

/**
 * What no door or page can take, answered here for all of them alike (Next answered these 500):
 * `OPTIONS *` (the server's methods) and any other asterisk target, a path that is not valid
 * percent-encoding, and NUL (U+0000) anywhere in the target: no field can hold it (Postgres
 * refuses it in text), so it is refused before it reaches one.
 */
export function unusableTarget(method: string | undefined, target: string, url: URL, requestId: string, refuse: Refuse = problem): Response | null {
  if (target === "*") {
    return method === "OPTIONS" ? new Response(null, { status: 204, headers: { allow: "GET, HEAD, POST, PUT, PATCH, DELETE, OPTIONS" } }) : refuse(400, "The request target * is only for OPTIONS.", { requestId });
  }
  try {
    decodeURIComponent(url.pathname);
  } catch {
    return refuse(400, "The path is not valid percent-encoding.", { requestId });
  }
  return /%00|\0/i.test(target) ? refuse(400, NUL_REFUSAL, { requestId, invalidValue: true }) : null;
}

/**
 * Whether a JSON or form body carries NUL: as a byte, as JSON's \u0000 escape (not an escaped
 * backslash followed by "u0000", which is text), or form-encoded %00. A body without a type is read
 * as JSON (SCIM takes one); other bodies, files among them, are the handler's.
 */
export function carriesNul(body: Buffer, contentType: string | undefined): boolean {
  const type = (contentType ?? "").toLowerCase();
  if (!type || type.includes("json")) return body.includes(0) || /(?<!\\)(?:\\\\)*\\u0000/i.test(body.toString("latin1"));
  if (type.startsWith("application/x-www-form-urlencoded")) return body.includes(0) || /%00/i.test(body.toString("latin1"));
  return false;
}

/**
 * Why a body is not text any field can hold, or null: NUL (carriesNul), and for a JSON body (or one
 * without a type) bytes that are not UTF-8 (a decoder would turn them into U+FFFD, and the answer
 * would describe what was not stored) or a lone surrogate escape ("\ud800" without its pair: JSON
 * allows the escape, but it is no character, and Postgres stores it as U+FFFD).
 */
export function unreadableBody(body: Buffer, contentType: string | undefined): string | null {
  const type = (contentType ?? "").toLowerCase();
  const json = !type || type.includes("json");
  // JSON text begins with an ASCII character: a NUL byte among the first two is UTF-16 or UTF-32
  // (valid UTF-8 as bytes, but full of NUL), so say what it is rather than that it holds NUL.
  if (json && (!isUtf8(body) || body[0] === 0 || body[1] === 0)) return NOT_UTF8;
  if (carriesNul(body, contentType)) return NUL_REFUSAL;
  if (json && body.includes("\\u") && /\\u[dD][89a-fA-F]/.test(body.toString("latin1"))) {
    let parsed: unknown;
    try {
      parsed = JSON.parse(body.toString("utf8"));
    } catch {
      return null; // not JSON: the handler says so
    }
    if (holdsLoneSurrogate(parsed)) return LONE_SURROGATE;
  }
  return null;
}

/** Whether any string (key or value) of a parsed JSON document holds a lone surrogate. */
function holdsLoneSurrogate(document: unknown): boolean {
  for (const [, text] of jsonStrings(document)) if (/\p{Surrogate}/u.test(text)) return true;
  return false;
}

export function createLeanServer(options: LeanServerOptions): LeanServer {
  const log = options.log ?? ((line: string) => console.error(line));
  let inFlight = 0;
  let drained: (() => void) | null = null;

  const onRequest = (req: IncomingMessage, res: ServerResponse) => {
    inFlight++;
    res.once("close", () => {
      inFlight--;
      if (inFlight === 0) drained?.();
    });
    void handle(req, res).catch((error) => {
      // A client that went away mid-request (its body cut off) is not a failure of ours: nothing to
      // answer, nothing to log.
      if (req.destroyed && !req.complete) return void res.destroy();
      log(`[server] request ${String(req.headers["x-request-id"])} failed: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}`);
      if (!res.headersSent) void send(res, problem(500, "Something went wrong on our side.", { requestId: String(req.headers["x-request-id"]) }));
      else res.destroy();
    });
  };
  const server = http.createServer(onRequest);
  server.on("checkContinue", (req: IncomingMessage, res: ServerResponse) => {
    awaitingContinue.add(req);
    onRequest(req, res);
  });

  // Idle connections stay open longer than clients keep theirs (load balancers and HTTP clients
  // keep them about 60 s): with Node's 5 s, a client reusing a connection as the server closes it
  // gets ECONNRESET. Answers say so in `Keep-Alive: timeout=65`.
  server.keepAliveTimeout = 65_000;

  async function handle(req: IncomingMessage, res: ServerResponse) {
    const requestId = crypto.randomUUID();
    const peer = req.socket.remoteAddress;
    // The one client address every rate limit and audit row reads; forwarding headers from a peer
    // that is not a trusted proxy are dropped, so no one can write an address into the trail.
    req.headers["x-forwarded-for"] = clientAddress(peer, req.headers["x-forwarded-for"], options.trustProxy);
    if (!isTrustedPeer(peer, options.trustProxy)) for (const h of FORWARDING_HEADERS) delete req.headers[h];
    req.headers["x-request-id"] = requestId;
    res.setHeader("x-request-id", requestId);

    let url: URL;
    try {
      url = new URL(req.url ?? "/", "http://localhost");
    } catch {
      return send(res, problem(400, "The request target is not a valid URL.", { requestId }));
    }
    const machine = machineRoute(url.pathname);
    // Refusals in the shape the door's clients read (SCIM's error schema for SCIM).
    const refuse = machine?.route.refuse ?? problem;
    const refused = unusableTarget(req.method, req.url ?? "/", url, requestId, refuse);
    if (refused) return send(res, refused);
    if (!machine) {
      const capped = CAPPED_NEXT_PATHS.find((p) => p.pattern.test(url.pathname));
      if (capped && req.method !== "GET" && req.method !== "HEAD") {
        let body: Buffer;
        try {
          body = await readCapped(req, res, capped.maxBody);
        } catch (error) {
          if (error instanceof BodyTooLarge) return tooLarge(res, capped.maxBody, requestId);
          throw error;
        }
        if (carriesNul(body, req.headers["content-type"])) return send(res, problem(400, NUL_REFUSAL, { requestId }));
        return options.next(replay(req, body), res);
      }
      letBodyCome(req, res);
      return options.next(req, res);
    }

    const { route, match } = machine;
    const asked = (req.method ?? "GET").toUpperCase();
    // HEAD wherever GET is answered (RFC 9110 §9.3.2): the GET's status and headers, no body.
    const head = asked === "HEAD" && (route.methods as readonly string[]).includes("GET");
    const method = head ? "GET" : asked;
    if (!(route.methods as readonly string[]).includes(method)) {
      const allowed = (route.methods as readonly string[]).includes("GET") ? [...route.methods, "HEAD"] : route.methods;
      return send(res, refuse(405, `${method} is not allowed here.`, { requestId, headers: { allow: allowed.join(", ") } }));
    }
    let body: Buffer | undefined;
    if (method !== "GET" && method !== "DELETE") {
      try {
        body = await readCapped(req, res, route.maxBody);
      } catch (error) {
        if (error instanceof BodyTooLarge) return tooLarge(res, route.maxBody, requestId, refuse);
        throw error;
      }
    } else {
      letBodyCome(req, res);
      req.resume();
    }
    const unreadable = body && unreadableBody(body, req.headers["content-type"]);
    if (unreadable) return send(res, refuse(400, unreadable, { requestId, invalidValue: true }));
    // The handler sees the public origin and the path that was routed (never a URL built from the
    // Host header, which a client writes).
    const headers = new Headers();
    for (const [key, value] of Object.entries(req.headers)) {
      if (value === undefined) continue;
      for (const v of Array.isArray(value) ? value : [value]) headers.append(key, v);
    }
    // A copy of its own (a small body read from the socket is a view into Node's shared buffer pool).
    const request = new BufferedRequest(`${publicOrigin()}${url.pathname}${url.search}`, { method, headers }, body ? new Uint8Array(body) : null);
    const answer = await route.handle(request, match);
    if (head) {
      await answer.body?.cancel();
      return send(res, new Response(null, { status: answer.status, headers: answer.headers }));
    }
    await send(res, answer);
  }

  const lean: LeanServer = {
    server,
    port: 0,
    inFlight: () => inFlight,
    listen(port, hostname) {
      return new Promise((resolve, reject) => {
        server.once("error", reject);
        server.listen(port, hostname, () => {
          server.off("error", reject);
          const address = server.address();
          lean.port = typeof address === "object" && address ? address.port : port;
          resolve(lean.port);
        });
      });
    },
    async close(timeoutMs = 25_000) {
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      server.closeIdleConnections();
      if (inFlight > 0) {
        await Promise.race([
          new Promise<void>((resolve) => (drained = resolve)),
          new Promise<void>((resolve) => setTimeout(resolve, timeoutMs).unref()),
        ]);
      }
      server.closeAllConnections();
      await closed;
    },
  };
  return lean;
}

/**
 * The server as `npm start` runs it: the first signing keys are made before it listens (a verifier
 * that cached an empty JWKS would refuse every token for the cache's lifetime), then it listens.
 */
export async function serveApp(options: LeanServerOptions & { port: number; hostname?: string }): Promise<LeanServer> {
  await ensureSigningKeys();
  const lean = createLeanServer(options);
  await lean.listen(options.port, options.hostname);
  return lean;
}
