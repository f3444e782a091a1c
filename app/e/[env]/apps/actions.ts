"use server";

import { headers } from "next/headers";
import { redirect } from "next/navigation";
import { clientIp } from "@/lib/auth/request-info";
import { flashParam } from "@/lib/end-user/flash";
import { isDomainError } from "@/lib/errors";
import { answerConsent, revokeConsent } from "@/lib/oauth/consents";
import { interactionCookie } from "./interaction-cookie";
import { currentEndUserSession } from "../session";

// The end user's answers to an app (an MCP client) that asks to use an MCP server as them, and the
// revocation of a connected app. lib/oauth decides and audits; these only carry the session.

async function requestInfo() {
  const h = await headers();
  return { ip: clientIp((n) => h.get(n)), userAgent: h.get("user-agent") ?? undefined };
}

export async function answerConsentAction(envKey: string, uid: string, allow: boolean): Promise<void> {
  const current = await currentEndUserSession(envKey);
  if (!current) redirect(`/e/${envKey}/sign-in?return_to=${encodeURIComponent(`/e/${envKey}/apps/consent/${uid}`)}`);
  if (current.mustEnrol) redirect(`/e/${envKey}`);
  let target: string;
  try {
    target = await answerConsent(current, envKey, uid, allow === true, await interactionCookie(), await requestInfo());
  } catch (error) {
    if (!isDomainError(error)) throw error;
    target = `/e/${envKey}/apps/consent/${uid}?error=${encodeURIComponent(flashParam(error.message))}`;
  }
  redirect(target);
}

export async function revokeConnectedAppAction(envKey: string, consentId: string): Promise<void> {
  const current = await currentEndUserSession(envKey);
  if (!current) redirect(`/e/${envKey}/sign-in`);
  try {
    await revokeConsent({ actor: { type: "end_user", id: current.user.id, label: current.user.email, environmentIds: [current.environment.id] }, ...(await requestInfo()) }, consentId);
  } catch (error) {
    if (!isDomainError(error)) throw error;
    redirect(`/e/${envKey}/apps?error=${encodeURIComponent(flashParam(error.message))}`);
  }
  redirect(`/e/${envKey}/apps?revoked=1`);
}
