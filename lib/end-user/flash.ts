import "server-only";
import { openSecret, sealSecret } from "@/lib/crypto/sealed";

// A refusal carried to the next page in its URL (?error=…), sealed: a page repeats only what our own
// action said, never text a link from elsewhere put there. Valid ten minutes.
const PURPOSE = "end-user-flash";
const MINUTES = 10;

export function flashParam(message: string): string {
  return sealSecret(PURPOSE, JSON.stringify({ m: message.slice(0, 300), x: Date.now() + MINUTES * 60_000 }));
}

/** The message a flash parameter carries, or null (absent, forged, altered or expired). */
export function readFlash(param: unknown): string | null {
  if (typeof param !== "string" || param.length > 2000) return null;
  try {
    const { m, x } = JSON.parse(openSecret(PURPOSE, param)) as { m?: unknown; x?: unknown };
    return typeof m === "string" && typeof x === "number" && x > Date.now() ? m : null;
  } catch {
    return null;
  }
}
