import "server-only";
import { createCipheriv, createDecipheriv, hkdfSync, randomBytes } from "node:crypto";
import { env } from "@/env";

// Secrets the server must read back (signing keys' private halves, webhook signing secrets) are
// stored sealed: AES-256-GCM under a key derived from NEXTAUTH_SECRET by HKDF, one key per purpose.

const key = (purpose: string) => Buffer.from(hkdfSync("sha256", env().NEXTAUTH_SECRET, "iam-console", purpose, 32));

export function sealSecret(purpose: string, plaintext: string): string {
  const iv = randomBytes(12);
  const cipher = createCipheriv("aes-256-gcm", key(purpose), iv);
  const sealed = Buffer.concat([cipher.update(plaintext, "utf8"), cipher.final(), cipher.getAuthTag()]);
  return `v1.${iv.toString("base64url")}.${sealed.toString("base64url")}`;
}

export function openSecret(purpose: string, stored: string, what = "This secret"): string {
  const [version, iv, sealed] = stored.split(".");
  if (version !== "v1" || !iv || !sealed) throw new Error(`${what} is gone or in an unknown format.`);
  const data = Buffer.from(sealed, "base64url");
  const decipher = createDecipheriv("aes-256-gcm", key(purpose), Buffer.from(iv, "base64url"));
  decipher.setAuthTag(data.subarray(data.length - 16));
  return Buffer.concat([decipher.update(data.subarray(0, data.length - 16)), decipher.final()]).toString("utf8");
}
