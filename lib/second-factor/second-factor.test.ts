import { describe, expect, it } from "vitest";
import { generate } from "otplib";
import { checkTotp, newTotpSecret, totpEnrolment, TOTP_PERIOD_SECONDS } from "./totp";
import { hashRecoveryCode, looksLikeRecoveryCode, newRecoveryCodes, recoveryCodeMatches } from "./recovery-codes";

const at = (seconds: number) => seconds * 1000;
const codeAt = (secret: string, seconds: number) => generate({ secret, epoch: seconds });

describe("TOTP", () => {
  const secret = newTotpSecret();
  const t = 1_800_000_000; // a step boundary is irrelevant: steps are computed from it
  const step = Math.floor(t / TOTP_PERIOD_SECONDS);

  it("accepts the current code and returns its time step", async () => {
    expect(await checkTotp(secret, await codeAt(secret, t), null, at(t))).toEqual({ ok: true, timeStep: step });
  });

  it("accepts the previous and the next step, not two steps away", async () => {
    expect(await checkTotp(secret, await codeAt(secret, t - TOTP_PERIOD_SECONDS), null, at(t))).toEqual({ ok: true, timeStep: step - 1 });
    expect(await checkTotp(secret, await codeAt(secret, t + TOTP_PERIOD_SECONDS), null, at(t))).toEqual({ ok: true, timeStep: step + 1 });
    expect(await checkTotp(secret, await codeAt(secret, t - 2 * TOTP_PERIOD_SECONDS), null, at(t))).toEqual({ ok: false, reason: "wrong" });
    expect(await checkTotp(secret, await codeAt(secret, t + 2 * TOTP_PERIOD_SECONDS), null, at(t))).toEqual({ ok: false, reason: "wrong" });
  });

  it("refuses a code used once already, and any older one", async () => {
    const code = await codeAt(secret, t);
    expect(await checkTotp(secret, code, step, at(t))).toEqual({ ok: false, reason: "replayed" });
    expect(await checkTotp(secret, await codeAt(secret, t - TOTP_PERIOD_SECONDS), step, at(t))).toEqual({ ok: false, reason: "replayed" });
    expect(await checkTotp(secret, await codeAt(secret, t + TOTP_PERIOD_SECONDS), step, at(t))).toEqual({ ok: true, timeStep: step + 1 });
  });

  it("refuses codes that are not six digits, without computing anything", async () => {
    for (const code of ["", "12345", "1234567", "abcdef", "12 34 5"]) {
      expect(await checkTotp(secret, code, null, at(t))).toEqual({ ok: false, reason: "malformed" });
    }
  });

  it("gives an otpauth URI and a QR code for it", async () => {
    const { uri, qrSvg } = await totpEnrolment({ secret, issuer: "IAM Console", account: "ana@example.com" });
    expect(uri).toMatch(/^otpauth:\/\/totp\/IAM%20Console:ana%40example\.com\?/);
    expect(new URL(uri).searchParams.get("secret")).toBe(secret);
    expect(qrSvg).toMatch(/^<svg/);
  });
});

describe("recovery codes", () => {
  it("are ten distinct codes of the documented shape", () => {
    const codes = newRecoveryCodes();
    expect(codes).toHaveLength(10);
    expect(new Set(codes).size).toBe(10);
    for (const code of codes) expect(code).toMatch(/^[a-z2-9]{5}-[a-z2-9]{5}$/);
  });

  it("match their hash whatever the case, spaces and dashes, and nothing else", () => {
    const [code, other] = newRecoveryCodes(2) as [string, string];
    const stored = hashRecoveryCode(code);
    expect(recoveryCodeMatches(code.toUpperCase().replace("-", " "), stored)).toBe(true);
    expect(recoveryCodeMatches(other, stored)).toBe(false);
    expect(looksLikeRecoveryCode(` ${code.toUpperCase()} `)).toBe(true);
    expect(looksLikeRecoveryCode("123456")).toBe(false);
  });
});
