"use server";

import { consoleAction } from "@/lib/actions";
import {
  changeConsoleMemberRole,
  inviteConsoleMember,
  reactivateConsoleMember,
  removeConsoleMember,
  resendConsoleInvitation,
  suspendConsoleMember,
} from "@/lib/console-members";
import { sendConsolePasswordReset } from "@/lib/console-members/own-account";
import { resetMemberSecondFactors } from "@/lib/second-factor";

// Settings → Members: thin doors onto lib/console-members (which checks who may touch owners, the
// last active owner, ends sessions and audits).

export const inviteMemberAction = consoleAction({ permission: ["console_members", "write"], stepUp: true }, async (ctx, input: unknown) => {
  const { member, expiresAt } = await inviteConsoleMember(ctx, input);
  return { id: member.id, email: member.email, expiresAt: expiresAt.toISOString() };
});

// A resend issues a new link to the invited role: as sensitive as the invitation (step-up).
export const resendInvitationAction = consoleAction({ permission: ["console_members", "write"], stepUp: true }, async (ctx, memberId: string) => {
  const { expiresAt } = await resendConsoleInvitation(ctx, String(memberId));
  return { expiresAt: expiresAt.toISOString() };
});

export const changeMemberRoleAction = consoleAction({ permission: ["console_members", "write"], stepUp: true }, (ctx, memberId: string, input: unknown) =>
  changeConsoleMemberRole(ctx, String(memberId), input),
);

export const suspendMemberAction = consoleAction({ permission: ["console_members", "write"] }, (ctx, memberId: string) => suspendConsoleMember(ctx, String(memberId)));

export const reactivateMemberAction = consoleAction({ permission: ["console_members", "write"] }, (ctx, memberId: string) => reactivateConsoleMember(ctx, String(memberId)));

export const removeMemberAction = consoleAction({ permission: ["console_members", "write"] }, (ctx, memberId: string) => removeConsoleMember(ctx, String(memberId)));

/** An owner resets a member's second factors (a lost phone): lib/second-factor ends their sessions and audits it. */
export const resetSecondFactorsAction = consoleAction({ permission: ["console_members", "write"], stepUp: true }, (ctx, memberId: string) =>
  resetMemberSecondFactors(ctx, String(memberId)),
);

/** An owner sends a member a password reset link (a link that sets a password: step-up); lib/console-members audits it. */
export const sendPasswordResetAction = consoleAction({ permission: ["console_members", "write"], stepUp: true }, async (ctx, memberId: string) => {
  const { expiresAt } = await sendConsolePasswordReset(ctx, String(memberId));
  return { expiresAt: expiresAt.toISOString() };
});
