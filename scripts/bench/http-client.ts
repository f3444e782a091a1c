import http from "node:http";

// The load generators' client: node:http over keep-alive sockets (one per concurrent client).
// The benchmarks run the clients on the same two cores as the server they measure; undici's
// `fetch` (WHATWG streams, a Response object per answer) costs the clients several times the CPU
// of this, CPU the server then does not get. Real components call from other machines.

const agent = new http.Agent({ keepAlive: true, maxSockets: 64 });

export type Answer = { status: number; text: string };

/** One request; resolves with the status and the body as text. */
export function request(url: string, init: { method?: string; headers?: Record<string, string>; body?: string } = {}): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const req = http.request(url, { method: init.method ?? "GET", headers: { ...init.headers, ...(init.body !== undefined ? { "content-length": String(Buffer.byteLength(init.body)) } : {}) }, agent }, (res) => {
      const chunks: Buffer[] = [];
      res.on("data", (c: Buffer) => chunks.push(c));
      res.on("end", () => resolve({ status: res.statusCode ?? 0, text: Buffer.concat(chunks).toString("utf8") }));
      res.on("error", reject);
    });
    req.on("error", reject);
    req.end(init.body);
  });
}
