import "server-only";
import { verifyPassword } from "@/lib/auth/password";
import { ValidationError } from "@/lib/errors";
import { hitRateLimit, resetRateLimit } from "@/lib/rate-limit";

/**
 * The current password of a signed-in account, proven before a change of it (a console member's
 * and an end user's own password change). Guesses are counted per session before they are judged
 * (`limit` per `windowSeconds`: a stolen session cannot guess it); a session past its guesses is
 * refused unjudged (`throttled` audits it); a wrong guess is also counted on the account (`wrong`
 * counts it toward the account's lockout and audits it); then the new password must differ from it.
 * Each refusal is a field error of the form.
 */
export async function proveCurrentPassword(o: {
  sessionKey: string;
  limit: number;
  windowSeconds: number;
  hash: string | null;
  current: string;
  next: string;
  throttled: () => Promise<unknown>;
  wrong: () => Promise<unknown>;
}): Promise<void> {
  const guesses = await hitRateLimit(o.sessionKey, o.limit, o.windowSeconds);
  if (!guesses.allowed) {
    await o.throttled();
    throw ValidationError.field("current", `Too many wrong passwords: try again in ${Math.ceil(guesses.retryAfterSeconds / 60)} minutes.`);
  }
  if (!(await verifyPassword(o.hash, o.current))) {
    await o.wrong();
    throw ValidationError.field("current", "That is not your current password.");
  }
  await resetRateLimit(o.sessionKey);
  if (await verifyPassword(o.hash, o.next)) throw ValidationError.field("password", "Choose a password other than your current one.");
}
