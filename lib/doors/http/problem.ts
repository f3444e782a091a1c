import { clientErrorOf } from "@/lib/db-errors";
import type { FieldErrors } from "@/lib/errors";

// Errors of HTTP doors as RFC 9457 problem details (application/problem+json).

const TITLES: Record<number, string> = {
  400: "Bad request",
  401: "Unauthorized",
  403: "Forbidden",
  404: "Not found",
  405: "Method not allowed",
  409: "Conflict",
  412: "Precondition failed",
  413: "Content too large",
  415: "Unsupported media type",
  422: "Unprocessable content",
  429: "Too many requests",
  500: "Internal server error",
  503: "Service unavailable",
};

export function problem(
  status: number,
  detail: string,
  extra: { code?: string; fieldErrors?: FieldErrors; headers?: Record<string, string>; requestId?: string } = {},
): Response {
  const body: Record<string, unknown> = {
    type: extra.code ? `urn:iam-console:problem:${extra.code}` : "about:blank",
    title: TITLES[status] ?? "Error",
    status,
    detail,
  };
  if (extra.fieldErrors && Object.keys(extra.fieldErrors).length) body.errors = extra.fieldErrors;
  if (extra.requestId) body.requestId = extra.requestId;
  return new Response(JSON.stringify(body), {
    status,
    headers: { "content-type": "application/problem+json", "cache-control": "no-store", ...extra.headers },
  });
}

/** A thrown error as a problem: domain errors with their status and fields; anything else is ours (500, logged). */
export function problemFromError(error: unknown, requestId?: string): Response {
  const known = clientErrorOf(error);
  if (known) return problem(known.status, known.message, { code: known.code, fieldErrors: known.fieldErrors, requestId });
  console.error(`[http] unexpected error (request ${requestId ?? "?"})`, error);
  return problem(500, "Something went wrong on our side.", { requestId });
}
