import { handleScim } from "@/lib/doors/scim/handler";

// SCIM 2.0 (RFC 7644) for one directory: /scim/v2/<directory>/Users, /Groups, /Schemas, …
type Params = { params: Promise<{ directory: string; path?: string[] }> };

async function handle(request: Request, { params }: Params) {
  const { directory, path } = await params;
  return handleScim(request, directory, path ?? []);
}

export const GET = handle;
export const POST = handle;
export const PUT = handle;
export const PATCH = handle;
export const DELETE = handle;
