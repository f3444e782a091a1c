"use server";

import { cookies } from "next/headers";
import { consoleAction } from "@/lib/actions";
import { consoleSessionCookie } from "@/lib/auth/session";
import { updateConsoleSso } from "@/lib/console-sso";
import { changeOwnConsolePassword, endOwnConsoleSessions } from "@/lib/console-members/own-account";
import {
  confirmSecondFactor,
  confirmTotpEnrolment,
  finishPasskeyRegistration,
  startPasskeyRegistration,
  stepUpPasskeyOptions,
  regenerateRecoveryCodes,
  removeSecondFactor,
  setConsolePasswordReset,
  setRequireSecondFactor,
  startTotpEnrolment,
} from "@/lib/second-factor";

// Security: a member's own second factors (every role manages their own, so these need only what
// every role holds, reading console members; lib/second-factor acts on the signed-in member alone),
// the step-up confirmation sensitive actions ask for, and the owners' "require a second factor".
// Open to a member the console sends here to enrol (duringEnrolment).

const own = { permission: ["console_members", "read"], duringEnrolment: true, revalidate: ["/console"] } as const;
// Adding a factor is a sensitive action once the member has one (step-up; nothing to ask before the
// first): a stolen session must not add its own authenticator to pass every later step-up.

export const startTotpAction = consoleAction({ ...own, stepUp: true }, async (ctx) => {
  const { factorId, secret, qrSvg, uri } = await startTotpEnrolment(ctx);
  return { factorId, secret, qrSvg, uri };
});

export const confirmTotpAction = consoleAction({ ...own, stepUp: true }, async (ctx, input: unknown) => {
  const { factor, recoveryCodes } = await confirmTotpEnrolment(ctx, input);
  return { name: factor.name, recoveryCodes };
});

export const startPasskeyAction = consoleAction({ ...own, stepUp: true }, (ctx) => startPasskeyRegistration(ctx));

export const finishPasskeyAction = consoleAction({ ...own, stepUp: true }, async (ctx, input: unknown) => {
  const { factor, recoveryCodes } = await finishPasskeyRegistration(ctx, input);
  return { name: factor.name, recoveryCodes };
});

/** The passkey challenge of a step-up (null when the member has no passkey). */
export const stepUpPasskeyOptionsAction = consoleAction({ ...own }, (ctx) => stepUpPasskeyOptions(ctx));

export const removeSecondFactorAction = consoleAction({ ...own, stepUp: true }, (ctx, factorId: string) => removeSecondFactor(ctx, String(factorId)));

export const regenerateRecoveryCodesAction = consoleAction({ ...own, stepUp: true }, (ctx) => regenerateRecoveryCodes(ctx));

/** Step-up: the code a sensitive action asked for (lib/actions answers those with code "step_up_required"). */
export const confirmSecondFactorAction = consoleAction({ ...own }, (ctx, code: unknown) => confirmSecondFactor(ctx, code));

export const setConsolePasswordResetAction = consoleAction({ permission: ["console_members", "write"], stepUp: true, revalidate: ["/console", "/sign-in"] }, (ctx, input: unknown) =>
  setConsolePasswordReset(ctx, input),
);

export const setRequireSecondFactorAction = consoleAction({ permission: ["console_members", "write"], stepUp: true, revalidate: ["/console"] }, (ctx, input: unknown) =>
  setRequireSecondFactor(ctx, input),
);

/** Owners: console SSO, its IdP, who keeps a password and the group mappings (a sensitive action: step-up). */
export const updateConsoleSsoAction = consoleAction({ permission: ["console_members", "write"], stepUp: true, revalidate: ["/console", "/sign-in"] }, async (ctx, input: unknown) => {
  await updateConsoleSso(ctx, input);
  return null;
});

/**
 * The member's own password: the current one proves it is them (lib/console-members/own-account.ts);
 * their other sessions end, and this browser goes on in a new session (its cookie set here).
 */
export const changeOwnPasswordAction = consoleAction({ ...own, duringEnrolment: false }, async (ctx, input: unknown) => {
  const { sessionsEnded, sessionId, member } = await changeOwnConsolePassword(ctx, input);
  const cookie = await consoleSessionCookie(sessionId, member);
  (await cookies()).set(cookie.name, cookie.value, cookie.options);
  return { sessionsEnded };
});

/** Signs the member out of one of their other sessions (its id), or of all of them ("others"). */
export const endOwnSessionsAction = consoleAction({ ...own }, (ctx, which: unknown) => endOwnConsoleSessions(ctx, which));
