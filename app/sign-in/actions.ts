"use server";

import { headers } from "next/headers";
import type { PublicKeyCredentialRequestOptionsJSON } from "@simplewebauthn/server";
import { passkeySignInOptions } from "@/lib/auth/console-sign-in";
import { clientIp } from "@/lib/auth/request-info";
import { emailSchema } from "@/lib/validation";

// The console sign-in's passkey step, public by nature: it checks the email and password itself
// (lib/auth/console-sign-in.ts: a wrong password counts toward the lockout and is audited; no
// session is opened) and answers the options of a WebAuthn challenge for the member's passkeys.

export async function passkeyOptionsAction(
  email: unknown,
  password: unknown,
): Promise<{ ok: true; options: PublicKeyCredentialRequestOptionsJSON } | { ok: false; error: string }> {
  if (typeof email !== "string" || typeof password !== "string" || !email || !password || email.length > 320 || password.length > 1024) {
    return { ok: false, error: "Enter your email and password first." };
  }
  // Not an address (a NUL, which no text column holds, included): no member has it.
  if (!emailSchema.safeParse(email).success) return { ok: false, error: "Enter a valid email address." };
  const h = await headers();
  const result = await passkeySignInOptions({ email, password, ip: clientIp((n) => h.get(n)), userAgent: h.get("user-agent") ?? undefined });
  if (result.ok) return result;
  if (result.reason === "no_passkey") return { ok: false, error: "This account has no passkey: use your authenticator app or a recovery code." };
  return { ok: false, error: "Wrong email or password, or the account is locked for a while after too many attempts." };
}
