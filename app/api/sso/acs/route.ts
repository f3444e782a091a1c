import type { NextRequest } from "next/server";
import { clientIp } from "@/lib/auth/request-info";
import { ssoBindingCookie } from "@/lib/sso/browser-binding";
import { ssoAttemptLimit, ssoErrorPage, ssoResultResponse } from "@/lib/doors/http/sso-finish";
import { handleAcs } from "@/lib/sso/flow";
import { MAX_RESPONSE_BYTES } from "@/lib/sso/saml-response";

// Our Assertion Consumer Service (HTTP-POST binding). Every check runs in lib/sso before any user
// is touched; the browser then goes (303, as a GET) to where the sign-in started. The browser's
// SSO binding cookie goes along: an SP-initiated response counts only in the browser that started it.
export async function POST(request: NextRequest) {
  const length = Number(request.headers.get("content-length") ?? 0);
  if (length > MAX_RESPONSE_BYTES * 2) return ssoErrorPage(413, "The SAML response is too large.");
  const type = request.headers.get("content-type") ?? "";
  if (!type.startsWith("application/x-www-form-urlencoded") && !type.startsWith("multipart/form-data")) {
    return ssoErrorPage(415, "The ACS accepts the SAML HTTP-POST binding (a form post) only.");
  }
  const ip = clientIp((n) => request.headers.get(n));
  const limited = await ssoAttemptLimit(ip);
  if (limited) return limited;
  let form: FormData;
  try {
    form = await request.formData();
  } catch {
    return ssoErrorPage(400, "The form post could not be read.");
  }
  const result = await handleAcs({
    SAMLResponse: form.get("SAMLResponse"),
    RelayState: form.get("RelayState"),
    browserBinding: request.cookies.get(ssoBindingCookie().name)?.value,
    ip,
    userAgent: request.headers.get("user-agent") ?? undefined,
  });
  return ssoResultResponse(request, result);
}

