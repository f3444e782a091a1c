import { createHash, randomInt, timingSafeEqual } from "node:crypto";

// Recovery codes: ten single-use codes shown once, stored as SHA-256 hashes. The codes carry 49
// bits of entropy each (10 characters of a 31-letter alphabet without look-alikes), far beyond
// what online guessing under the sign-in lockout can reach, so a fast hash is enough (as for API
// tokens); argon2 would only slow the sign-in page. Shown as "xxxxx-xxxxx".

export const RECOVERY_CODE_COUNT = 10;
const ALPHABET = "abcdefghjkmnpqrstuvwxyz23456789"; // no i, l, o, 0, 1

export function newRecoveryCodes(count = RECOVERY_CODE_COUNT): string[] {
  return Array.from({ length: count }, () => {
    const chars = Array.from({ length: 10 }, () => ALPHABET[randomInt(ALPHABET.length)]).join("");
    return `${chars.slice(0, 5)}-${chars.slice(5)}`;
  });
}

/** The normal form of what a person typed: lower case, no spaces or dashes. */
export function normaliseRecoveryCode(input: string): string {
  return input.toLowerCase().replace(/[\s-]+/g, "");
}

export function hashRecoveryCode(code: string): string {
  return createHash("sha256").update(`recovery:${normaliseRecoveryCode(code)}`).digest("hex");
}

/** Whether a typed code matches a stored hash (constant time). */
export function recoveryCodeMatches(input: string, storedHash: string): boolean {
  const a = Buffer.from(hashRecoveryCode(input), "hex");
  const b = Buffer.from(storedHash, "hex");
  return a.length === b.length && timingSafeEqual(a, b);
}

/** Cheap shape check before any lookup: 10 letters of the alphabet once normalised. */
export function looksLikeRecoveryCode(input: string): boolean {
  return new RegExp(`^[${ALPHABET}]{10}$`).test(normaliseRecoveryCode(input));
}
