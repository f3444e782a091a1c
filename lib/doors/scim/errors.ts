import { SCHEMA } from "./schema";

// Errors in the SCIM error schema (RFC 7644 §3.12): status as a string, scimType where one applies.

export type ScimType = "invalidFilter" | "tooMany" | "uniqueness" | "mutability" | "invalidSyntax" | "invalidPath" | "noTarget" | "invalidValue" | "invalidVers" | "sensitive";

export class ScimError extends Error {
  constructor(
    readonly status: number,
    message: string,
    readonly scimType?: ScimType,
    readonly headers: Record<string, string> = {},
  ) {
    super(message);
    this.name = "ScimError";
  }
}

export function scimErrorBody(status: number, detail: string, scimType?: ScimType) {
  return { schemas: [SCHEMA.error], status: String(status), ...(scimType ? { scimType } : {}), detail };
}

/** The lean server's own refusals on a SCIM path (lib/doors/server/routes.ts), as SCIM errors: a SCIM client reads no other shape. */
export function scimRefusal(status: number, detail: string, extra: { requestId?: string; headers?: Record<string, string>; invalidValue?: boolean }): Response {
  return new Response(JSON.stringify(scimErrorBody(status, detail, extra.invalidValue ? "invalidValue" : undefined)), {
    status,
    headers: { "content-type": "application/scim+json", "cache-control": "no-store", ...extra.headers },
  });
}
