import { generateSecret, generateURI, verify } from "otplib";
import QRCode from "qrcode";

// TOTP (RFC 6238) for console members and end users alike: SHA-1, 6 digits, 30-second steps (what
// every authenticator app reads), a ±1 step window, and a code used once: the caller stores the
// time step of the last accepted code and passes it back, so the same code (or an older one) is
// refused even inside the window. The secret is stored sealed (lib/crypto/sealed.ts), never hashed,
// because the server must compute codes from it.

export const TOTP_PERIOD_SECONDS = 30;
export const TOTP_WINDOW_STEPS = 1;

/** A new base32 secret (20 random bytes, RFC 4226's recommended length). */
export function newTotpSecret(): string {
  return generateSecret({ length: 20 });
}

/** The otpauth:// URI an authenticator app reads, and the same as an SVG QR code (no network). */
export async function totpEnrolment(input: { secret: string; issuer: string; account: string }): Promise<{ uri: string; qrSvg: string }> {
  const uri = generateURI({ issuer: input.issuer, label: input.account, secret: input.secret });
  const qrSvg = await QRCode.toString(uri, { type: "svg", errorCorrectionLevel: "M", margin: 1 });
  return { uri, qrSvg };
}

export type TotpCheck = { ok: true; timeStep: number } | { ok: false; reason: "malformed" | "wrong" | "replayed" };

/**
 * Checks a code against the secret within ±1 step. `lastTimeStep` is the step of the last code
 * accepted for this secret (null if none): a code of that step or an earlier one is "replayed".
 * On success, store the returned `timeStep` as the new last step (in the same transaction that
 * accepts the sign-in, with a guard `where last_time_step < new` so two racing requests cannot both
 * win).
 */
export async function checkTotp(secret: string, code: string, lastTimeStep: number | null, now: number = Date.now()): Promise<TotpCheck> {
  const token = code.replace(/\s+/g, "");
  if (!/^\d{6}$/.test(token)) return { ok: false, reason: "malformed" };
  const window = await verify({ secret, token, epoch: Math.floor(now / 1000), epochTolerance: TOTP_PERIOD_SECONDS * TOTP_WINDOW_STEPS });
  if (!window.valid) return { ok: false, reason: "wrong" };
  const timeStep = (window as { timeStep: number }).timeStep;
  if (lastTimeStep !== null && timeStep <= lastTimeStep) return { ok: false, reason: "replayed" };
  return { ok: true, timeStep };
}
