import { sign as cryptoSign } from "node:crypto";
import { base64url, decodeJwt, decodeProtectedHeader } from "jose";
import type { Reason } from "@iam-console/runtime";
import { activeSigningKey } from "@/lib/tokens/keys";

// Malformed access tokens, each with the reason every verifier and door must answer. Built from a
// valid token of the issuer, so everything but the named defect is right; where the defect is in
// what is signed, the issuer's active key signs it (jose refuses to sign most of these).

const b64 = (value: unknown) => base64url.encode(typeof value === "string" ? value : JSON.stringify(value));

/** Signs exactly this header and payload text with the issuer's active key. */
export async function signRaw(header: Record<string, unknown>, payload: string): Promise<string> {
  const key = await activeSigningKey();
  const input = `${b64({ ...header, alg: key.algorithm, kid: key.kid })}.${b64(payload)}`;
  const signature =
    key.algorithm === "EdDSA" ? cryptoSign(null, Buffer.from(input), key.key) : cryptoSign("sha256", Buffer.from(input), { key: key.key, dsaEncoding: "ieee-p1363" });
  return `${input}.${base64url.encode(signature)}`;
}

export type MalformedToken = { name: string; token: string; reason: Reason };

export async function malformedTokens(valid: string): Promise<MalformedToken[]> {
  const [h, p, s] = valid.split(".") as [string, string, string];
  const header = decodeProtectedHeader(valid) as Record<string, unknown>;
  const claims = JSON.stringify(decodeJwt(valid));
  return [
    { name: "bad base64", token: `${h}.${p.slice(0, 10)}!*${p.slice(10)}.${s}`, reason: "malformed_token" },
    { name: "bad base64 in the header", token: `@@${h}.${p}.${s}`, reason: "malformed_token" },
    { name: "two segments", token: `${h}.${p}`, reason: "malformed_token" },
    { name: "four segments", token: `${valid}.${s}`, reason: "malformed_token" },
    { name: "one segment", token: h, reason: "malformed_token" },
    { name: "non-JSON header", token: `${b64("not json at all")}.${p}.${s}`, reason: "malformed_token" },
    { name: "header a JSON array", token: `${b64([header])}.${p}.${s}`, reason: "malformed_token" },
    { name: "unknown crit, original signature", token: `${b64({ ...header, crit: ["exp"], exp: 1 })}.${p}.${s}`, reason: "unsupported_header" },
    { name: "unknown crit, signed by the issuer's key", token: await signRaw({ ...header, crit: ["exp"], exp: 1 }, claims), reason: "unsupported_header" },
    { name: "crit not an array", token: await signRaw({ ...header, crit: "exp" }, claims), reason: "unsupported_header" },
    { name: "unencoded payload (b64: false)", token: await signRaw({ ...header, b64: false, crit: ["b64"] }, claims), reason: "unsupported_header" },
    { name: "huge header", token: `${b64({ ...header, pad: "x".repeat(9000) })}.${p}.${s}`, reason: "token_too_large" },
    { name: "non-JSON payload, signed by the issuer's key", token: await signRaw(header, "not json"), reason: "malformed_token" },
    { name: "payload a JSON array, signed by the issuer's key", token: await signRaw(header, "[1]"), reason: "malformed_token" },
    { name: "alg outside ASCII", token: `${b64({ ...header, alg: "ES256\u4e00\u00e9" })}.${p}.${s}`, reason: "algorithm_not_allowed" },
  ];
}
