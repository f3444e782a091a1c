import type { Environment } from "@/db/schema";
import { systemCtx } from "@/test-support/fixtures";
import { createDirectory } from "@/lib/directories";
import { handleScim } from "./handler";

/** A directory and a client that calls the SCIM door as an HTTP client would. */
export async function scimClient(env: Environment, name = `Directory ${crypto.randomUUID().slice(0, 8)}`, settings: { patchAnswer?: "resource" | "no_content" } = {}) {
  const { directory, token } = await createDirectory(systemCtx, { environmentId: env.id, name, ...settings });
  async function call(method: string, path: string, body?: unknown, options: { token?: string | null; headers?: Record<string, string>; raw?: string; directoryId?: string } = {}) {
    const headers: Record<string, string> = { "content-type": "application/scim+json", ...options.headers };
    const bearer = options.token === undefined ? token : options.token;
    if (bearer) headers.authorization = `Bearer ${bearer}`;
    const dir = options.directoryId ?? directory.id;
    const request = new Request(`http://localhost:3000/scim/v2/${dir}${path}`, {
      method,
      headers,
      body: options.raw ?? (body === undefined ? undefined : JSON.stringify(body)),
    });
    const url = new URL(request.url);
    const segments = url.pathname.replace(`/scim/v2/${dir}`, "").split("/").filter(Boolean).map(decodeURIComponent);
    const res = await handleScim(request, dir, segments);
    const text = await res.text();
    return { status: res.status, headers: res.headers, body: text ? JSON.parse(text) : null };
  }
  return { directory, token, call };
}
