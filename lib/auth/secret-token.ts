import crypto from "node:crypto";

// Bearer secrets (API tokens, SCIM directory tokens, end-user session cookies, one-time password
// links): 32 random bytes, shown or sent once; only their SHA-256 is stored and looked up.

export function newSecretToken(prefix = ""): string {
  return prefix + crypto.randomBytes(32).toString("base64url");
}

export function hashToken(token: string): string {
  return crypto.createHash("sha256").update(token).digest("hex");
}
