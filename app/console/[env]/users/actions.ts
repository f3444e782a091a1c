"use server";

import { resetUserSecondFactors } from "@/lib/second-factor";
import { consoleAction } from "@/lib/actions";
import { addMembers, addUserToGroups, createGroup, deleteGroup, removeMembers, searchGroups, updateGroup } from "@/lib/groups";
import { liftExclusion } from "@/lib/groups/exclusions";
import { revokeConsent } from "@/lib/oauth/consents";
import { linkIdentity, unlinkIdentity } from "@/lib/sso/identities";
import { runBulkAction } from "@/lib/users/bulk";
import { listUsers } from "@/lib/users/list";
import { startBulkAllMatching } from "@/lib/users/bulk-job";
import { importItems, startImport } from "@/lib/import/csv-import";
import { cancelJob, getJob } from "@/lib/jobs";
import { sendInvitation } from "@/lib/end-user/password-accounts";
import { signOutEverywhere } from "@/lib/end-user/sessions";
import {
  createUser,
  deleteUser,
  grantEnvironment,
  reactivateUser,
  revokeEnvironment,
  suspendUser,
  updateUser,
} from "@/lib/users";
import { counted } from "@/lib/domain/words";

// Thin: the wrapper checks the session and the permission, the domain validates, checks scope,
// writes and audits in one transaction. Inputs are `unknown` on purpose: the client is not trusted.

export const createUserAction = consoleAction({ permission: ["users", "write"] }, async (ctx, input: unknown) => {
  const user = await createUser(ctx, input);
  return { id: user.id };
});

export const updateUserAction = consoleAction({ permission: ["users", "write"] }, async (ctx, userId: string, input: unknown) => {
  const user = await updateUser(ctx, userId, input);
  return { id: user.id, version: user.version };
});

export const suspendUserAction = consoleAction({ permission: ["users", "write"] }, async (ctx, userId: string) => {
  await suspendUser(ctx, userId);
  return null;
});

export const reactivateUserAction = consoleAction({ permission: ["users", "write"] }, async (ctx, userId: string) => {
  await reactivateUser(ctx, userId);
  return null;
});

export const deleteUserAction = consoleAction({ permission: ["users", "write"] }, async (ctx, userId: string) => {
  await deleteUser(ctx, userId);
  return null;
});

export const grantEnvironmentAction = consoleAction({ permission: ["environment_access", "write"] }, (ctx, input: unknown) =>
  grantEnvironment(ctx, input),
);

export const revokeEnvironmentAction = consoleAction({ permission: ["environment_access", "write"] }, (ctx, input: unknown) =>
  revokeEnvironment(ctx, input),
);

export const createGroupAction = consoleAction({ permission: ["groups", "write"] }, async (ctx, input: unknown) => {
  const group = await createGroup(ctx, input);
  return { id: group.id };
});

export const updateGroupAction = consoleAction({ permission: ["groups", "write"] }, async (ctx, groupId: string, input: unknown) => {
  const group = await updateGroup(ctx, groupId, input);
  return { id: group.id };
});

export const deleteGroupAction = consoleAction({ permission: ["groups", "write"] }, async (ctx, groupId: string) => {
  await deleteGroup(ctx, groupId);
  return null;
});

export const addMembersAction = consoleAction({ permission: ["memberships", "write"] }, (ctx, input: unknown) => addMembers(ctx, input));

export const addUserToGroupsAction = consoleAction({ permission: ["memberships", "write"] }, (ctx, input: unknown) =>
  addUserToGroups(ctx, input),
);

export const removeMembersAction = consoleAction({ permission: ["memberships", "write"] }, (ctx, input: unknown) =>
  removeMembers(ctx, input),
);

export const bulkUsersAction = consoleAction({ permission: ["users", "write"] }, (ctx, input: unknown) => runBulkAction(ctx, input));

export const searchGroupsAction = consoleAction({ permission: ["groups", "read"] }, async (_ctx, input: unknown) =>
  (await searchGroups(input)).map((g) => ({ id: g.id, name: g.name, detail: counted(g.memberCount, "member") })),
);

/** Users of an environment matching a search, for the add-members picker. */
export const searchUsersAction = consoleAction({ permission: ["users", "read"] }, async (_ctx, environmentId: string, q: string) => {
  const page = await listUsers({ environmentId, q: String(q ?? ""), size: 25, withTotal: false, sort: "name", dir: "asc" });
  return page.rows.map((u) => ({ id: u.id, name: u.name, detail: u.email }));
});

export const startImportAction = consoleAction({ permission: ["users", "write"] }, async (ctx, input: unknown) => {
  const job = await startImport(ctx, input);
  return { jobId: job.id };
});

export const startBulkAllMatchingAction = consoleAction({ permission: ["users", "write"] }, async (ctx, input: unknown) => {
  const job = await startBulkAllMatching(ctx, input);
  return { jobId: job.id };
});

/** A job's state and the first lines of its report (errors first), for progress bars and results. */
export const jobStatusAction = consoleAction({ permission: ["users", "read"] }, async (_ctx, jobId: string) => {
  const job = await getJob(jobId);
  const problems = await importItems(job.id, { outcome: job.kind === "bulk_users" ? "failed" : "error", limit: 100 });
  const sample = await importItems(job.id, { limit: 100 });
  return {
    id: job.id,
    kind: job.kind,
    status: job.status,
    progress: job.progress,
    total: job.total,
    summary: job.summary,
    error: job.error,
    cancelRequested: job.cancelRequested,
    problems: problems.map((i) => ({ seq: i.seq, key: i.key, outcome: i.outcome, detail: i.detail })),
    sample: sample.map((i) => ({ seq: i.seq, key: i.key, outcome: i.outcome, detail: i.detail })),
  };
});

/** Stops an import or a bulk action over a filter before its next batch (lib/jobs checks who may). */
// Gated on reading only: the member who started a job may stop it whatever their role is now (lib/jobs decides).
export const cancelJobAction = consoleAction({ permission: ["users", "read"] }, async (ctx, jobId: string) => {
  const job = await cancelJob(ctx, jobId);
  return { status: job.status };
});

export const sendInvitationAction = consoleAction({ permission: ["users", "write"] }, async (ctx, input: unknown) => {
  const { expiresAt } = await sendInvitation(ctx, input);
  return { expiresAt: expiresAt.toISOString() };
});

export const signOutEverywhereAction = consoleAction({ permission: ["users", "write"] }, async (ctx, userId: string) => {
  return { ended: await signOutEverywhere(ctx, String(userId)) };
});

/** Resets the user's second factors (a lost phone): lib/second-factor checks the scope, signs them out everywhere and audits it. */
export const resetUserSecondFactorsAction = consoleAction({ permission: ["users", "write"] }, (ctx, userId: string) => resetUserSecondFactors(ctx, String(userId)));

/** Lifts an access review's exclusion: the directory's or IdP's next sync may add the membership (or access) back. */
export const liftExclusionAction = consoleAction({ permission: ["memberships", "write"] }, (ctx, exclusionId: string) => liftExclusion(ctx, exclusionId));

/** Disconnects an app (an MCP client) from a user: its tokens stop at once (lib/oauth/consents.ts). */
export const revokeConnectedAppAction = consoleAction({ permission: ["users", "write"] }, async (ctx, consentId: string) => {
  await revokeConsent(ctx, String(consentId));
  return null;
});

/** Links an (IdP, subject) to a user by hand; unlinks one (lib/sso/identities.ts). */
export const linkIdentityByHandAction = consoleAction({ permission: ["users", "write"] }, (ctx, input: unknown) => linkIdentity(ctx, input));
export const unlinkIdentityAction = consoleAction({ permission: ["users", "write"] }, (ctx, input: unknown) => unlinkIdentity(ctx, input));
