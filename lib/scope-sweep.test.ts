import { beforeAll, beforeEach, describe, expect, it, vi } from "vitest";
import { eq, sql } from "drizzle-orm";
import { getDb } from "@/db/client";
import { ssoTraces, type Environment, type Group, type User } from "@/db/schema";
import { cookieJar, signInAs } from "@/test-support/console-session";
import { countRows, createVerifiedUser, realMemberCtx, systemCtx } from "@/test-support/fixtures";
import type { DomainContext } from "@/lib/auth/actor";

// The scope sweep (`npm run test:scope`): an actor whose scope is DEV alone tries, through every
// door, every account-wide change to a user who can also enter PROD. Each attempt is refused with
// its reason, and a snapshot of the user's account, access and memberships shows nothing changed.
// The doors: console server actions, the REST API, SCIM as a DEV directory, CSV import, SAML
// sign-in through an IdP acting for DEV (JIT and group sync on), and a background job.

vi.mock("next/headers", () => import("@/test-support/console-session").then((m) => m.nextHeadersMock));
vi.mock("next/cache", () => ({ revalidatePath: vi.fn() }));

const SCOPE = "This change touches an environment outside your scope.";
const ACCOUNT_WIDE = "This change is account-wide; it needs an owner or admin.";

type World = {
  envs: { dev: Environment; test: Environment; prod: Environment };
  prodGroup: Group;
  devGroup: Group;
  owner: DomainContext;
  devAdmin: DomainContext;
  devToken: string;
  scim: Awaited<ReturnType<typeof import("@/lib/doors/scim/testing").scimClient>>;
  sso: Awaited<ReturnType<typeof import("@/lib/sso/testing/fixture").setupSso>>;
};
let w: World;

beforeAll(async () => {
  const { setupSso, configureSso } = await import("@/lib/sso/testing/fixture");
  const { createGroup } = await import("@/lib/groups");
  const { createApiToken } = await import("@/lib/api-tokens");
  const { scimClient } = await import("@/lib/doors/scim/testing");
  // PROD signs in through the test IdP (JIT on); the same IdP also serves DEV, where it acts for DEV only.
  const sso = await setupSso({ jit: true, groupSync: true });
  const envs = sso.envs;
  await configureSso(envs.dev, sso.idp, { jit: true, groupSync: true, passwordEnabled: true, enforcement: "optional" });
  const prodGroup = await createGroup(systemCtx, { environmentId: envs.prod.id, name: "Payroll" });
  const devGroup = await createGroup(systemCtx, { environmentId: envs.dev.id, name: "Builders" });
  const owner = await realMemberCtx("owner");
  const devAdmin = await realMemberCtx("environment_admin", [envs.dev.id]);
  const devToken = (await createApiToken(owner, { name: "DEV pipeline", scope: "write", environmentIds: [envs.dev.id] })).token;
  // A DEV directory, as a DEV environment admin may create one from their own console.
  const scim = await scimClient(envs.dev, "DEV directory");
  w = { envs, prodGroup, devGroup, owner, devAdmin, devToken, scim, sso };
});

// Each case has its own victim: a real person (email proven) who works in DEV and PROD, in a group of each.
let victim: User;
let email: string;
beforeEach(async () => {
  cookieJar.clear();
  const { addMembers } = await import("@/lib/groups");
  email = `victoria.${crypto.randomUUID().slice(0, 8)}@corp.example`;
  victim = await createVerifiedUser(systemCtx, { name: "Victoria Prod", email, environmentIds: [w.envs.dev.id, w.envs.prod.id] });
  await addMembers(systemCtx, { groupId: w.prodGroup.id, userIds: [victim.id] });
  await addMembers(systemCtx, { groupId: w.devGroup.id, userIds: [victim.id] });
});

/** Everything account-wide about the victim, their access and memberships everywhere, and their links. */
async function snapshot(userId = victim.id) {
  const [row] = await getDb().execute(sql`select
    (select json_build_object('email', email, 'name', name, 'status', status, 'password', password_hash, 'version', version,
       'revokedBefore', revoked_before, 'verified', email_verified_at, 'lockedUntil', locked_until) from users where id = ${userId}) as account,
    (select coalesce(json_agg(e.key order by e.key), '[]') from environment_access a join environments e on e.id = a.environment_id where a.user_id = ${userId}) as access,
    (select coalesce(json_agg(g.name || ':' || gm.source order by g.name), '[]') from group_members gm join groups g on g.id = gm.group_id where gm.user_id = ${userId}) as memberships,
    (select count(*)::int from password_tokens where user_id = ${userId}) as links,
    (select count(*)::int from sessions where user_id = ${userId} and revoked_at is not null) as ended`);
  return row;
}

async function expectUnchanged(attempt: () => Promise<string | undefined | null>, reason: string | RegExp) {
  const before = await snapshot();
  const got = await attempt();
  if (typeof reason === "string") expect(got).toBe(reason);
  else expect(got).toMatch(reason);
  expect(await snapshot()).toEqual(before);
}

/** A server action's refusal reason (undefined when it succeeded). */
const errorOf = (result: { ok: boolean; error?: string }) => (result.ok ? undefined : result.error);

async function signInDevAdmin() {
  await signInAs("environment_admin", [w.envs.dev.id]);
}

async function api(method: string, path: string, body?: unknown) {
  const { handleApiRequest } = await import("@/lib/doors/rest/handler");
  const headers: Record<string, string> = { authorization: `Bearer ${w.devToken}` };
  if (body !== undefined) headers["content-type"] = "application/json";
  const response = await handleApiRequest(new Request(`http://localhost/api/v1${path}`, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) }), method as never);
  const text = await response.text();
  return { status: response.status, json: text ? JSON.parse(text) : null };
}

/** Suspends the victim as an owner for a case, and lifts it afterwards. */
async function whileSuspended(run: () => Promise<void>) {
  const { setUserStatus } = await import("@/lib/users");
  await setUserStatus(w.owner, victim.id, "suspended");
  try {
    await run();
  } finally {
    await setUserStatus(w.owner, victim.id, "active");
  }
}

describe("the scope sweep: a DEV-only actor against a user who can also enter PROD", () => {
  describe("console (server actions, as a DEV environment admin)", () => {
    it("cannot rename the user", async () => {
      const { updateUserAction } = await import("@/app/console/[env]/users/actions");
      await signInDevAdmin();
      await expectUnchanged(async () => errorOf(await updateUserAction(victim.id, { name: "Renamed By DEV" })), SCOPE);
    });

    it("cannot change the user's email", async () => {
      const { updateUserAction } = await import("@/app/console/[env]/users/actions");
      await signInDevAdmin();
      await expectUnchanged(async () => errorOf(await updateUserAction(victim.id, { email: "attacker@evil.example" })), SCOPE);
    });

    it("cannot suspend or delete the user", async () => {
      const { suspendUserAction, deleteUserAction } = await import("@/app/console/[env]/users/actions");
      await signInDevAdmin();
      await expectUnchanged(async () => errorOf(await suspendUserAction(victim.id)), SCOPE);
      await expectUnchanged(async () => errorOf(await deleteUserAction(victim.id)), SCOPE);
    });

    it("cannot revoke the user's PROD access", async () => {
      const { revokeEnvironmentAction } = await import("@/app/console/[env]/users/actions");
      await signInDevAdmin();
      await expectUnchanged(async () => errorOf(await revokeEnvironmentAction({ userId: victim.id, environmentId: w.envs.prod.id })), SCOPE);
    });

    it("cannot remove the user from a PROD group, nor add them to one", async () => {
      const { removeMembersAction, addMembersAction } = await import("@/app/console/[env]/users/actions");
      await signInDevAdmin();
      await expectUnchanged(async () => errorOf(await removeMembersAction({ groupId: w.prodGroup.id, userIds: [victim.id] })), SCOPE);
      await expectUnchanged(async () => errorOf(await addMembersAction({ groupId: w.prodGroup.id, userIds: [victim.id] })), SCOPE);
    });

    it("cannot send a link that sets the user's password (an invitation in DEV)", async () => {
      const { sendInvitationAction } = await import("@/app/console/[env]/users/actions");
      await signInDevAdmin();
      await expectUnchanged(async () => errorOf(await sendInvitationAction({ userId: victim.id, environmentId: w.envs.dev.id })), SCOPE);
    });

    it("cannot sign the user out everywhere", async () => {
      const { signOutEverywhereAction } = await import("@/app/console/[env]/users/actions");
      await signInDevAdmin();
      await expectUnchanged(async () => errorOf(await signOutEverywhereAction(victim.id)), SCOPE);
    });

    it("cannot read the user's mail: a reset link asked at PROD's door is not in the DEV admin's outbox", async () => {
      const { requestPasswordReset } = await import("@/lib/end-user/password-accounts");
      const { listOutbox } = await import("@/lib/mail");
      await requestPasswordReset("prod", email);
      const seenBy = async (ctx: DomainContext) => (await listOutbox(ctx.actor)).filter((m) => m.to === email).map((m) => m.subject);
      expect(await seenBy(w.owner)).toEqual(["Reset your PROD password"]);
      await expectUnchanged(async () => ((await seenBy(w.devAdmin)).length === 0 ? "not shown" : "shown"), "not shown");
    });

    it("cannot lift an owner's suspension", async () => {
      const { reactivateUserAction } = await import("@/app/console/[env]/users/actions");
      await whileSuspended(async () => {
        await signInDevAdmin();
        await expectUnchanged(async () => errorOf(await reactivateUserAction(victim.id)), SCOPE);
      });
    });
  });

  describe("REST API (a write token limited to DEV)", () => {
    it("cannot rename the user or change their email", async () => {
      await expectUnchanged(async () => (await api("PATCH", `/users/${victim.id}`, { name: "Renamed By API" })).json.detail, SCOPE);
      await expectUnchanged(async () => (await api("PATCH", `/users/${victim.id}`, { email: "attacker@evil.example" })).json.detail, SCOPE);
    });

    it("cannot suspend the user, nor lift an owner's suspension", async () => {
      await expectUnchanged(async () => (await api("POST", `/users/${victim.id}/suspend`)).json.detail, SCOPE);
      await whileSuspended(() => expectUnchanged(async () => (await api("POST", `/users/${victim.id}/reactivate`)).json.detail, SCOPE));
    });

    it("cannot revoke PROD access nor remove a PROD membership", async () => {
      await expectUnchanged(async () => (await api("DELETE", `/users/${victim.id}/environments/prod`)).json.detail, SCOPE);
      await expectUnchanged(async () => (await api("POST", `/groups/${w.prodGroup.id}/members/remove`, { userIds: [victim.id] })).json.detail, SCOPE);
    });

    it("cannot delete the user", async () => {
      await expectUnchanged(async () => (await api("DELETE", `/users/${victim.id}`)).json.detail, SCOPE);
    });
  });

  describe("SCIM (a directory bound to DEV)", () => {
    it("may link the user (their email is proven) but its name change is not applied, and the trail says why", async () => {
      const linked = await w.scim.call("POST", "/Users", { userName: email, displayName: "Victoria Prod", emails: [{ value: email, primary: true }] });
      expect(linked.status).toBe(201);
      expect(linked.body.id).toBe(victim.id);
      await expectUnchanged(async () => {
        const res = await w.scim.call("PATCH", `/Users/${victim.id}`, { Operations: [{ op: "replace", path: "displayName", value: "Renamed By Directory" }] });
        expect(res.status).toBeLessThan(300);
        const [event] = await getDb().execute<{ after: { nameNotApplied?: string } }>(sql`select after from audit_events where action = 'scim.user_patch' and target_id = ${victim.id} order by id desc limit 1`);
        return event!.after.nameNotApplied;
      }, /^This user can also enter an environment outside DEV directory's; this change touches an environment outside your scope\.$/);
    });

    it("cannot change the user's email (SCIM's emails stay the directory's own view)", async () => {
      expect((await w.scim.call("POST", "/Users", { userName: email, displayName: "Victoria Prod" })).body.id).toBe(victim.id);
      await expectUnchanged(async () => {
        const res = await w.scim.call("PATCH", `/Users/${victim.id}`, { Operations: [{ op: "replace", path: "emails", value: [{ value: "attacker@evil.example", primary: true }] }] });
        expect(res.status).toBeLessThan(300);
        return (await getDb().execute<{ email: string }>(sql`select email from users where id = ${victim.id}`))[0]!.email === email ? "email kept" : "email changed";
      }, "email kept");
    });

    it("cannot undo an owner's suspension (the reported attack: active:false, then active:true)", async () => {
      const linked = await w.scim.call("POST", "/Users", { userName: email, displayName: "Victoria Prod" });
      expect(linked.body.id).toBe(victim.id);
      await whileSuspended(async () => {
        const off = await w.scim.call("PATCH", `/Users/${victim.id}`, { Operations: [{ op: "replace", path: "active", value: false }] });
        expect(off.status).toBeLessThan(300);
        await expectUnchanged(async () => {
          const on = await w.scim.call("PATCH", `/Users/${victim.id}`, { Operations: [{ op: "replace", path: "active", value: true }] });
          expect(on.status).toBe(403);
          return on.body.detail;
        }, `${email} was suspended by an administrator; a directory cannot reactivate the account. Ask an admin of the console to reactivate it.`);
        // The answer is truthful: the suspended user is not shown active.
        expect((await w.scim.call("GET", `/Users/${victim.id}`)).body.active).toBe(false);
      });
    });

    it("deprovisioning takes only DEV: the user stays active with PROD access and memberships", async () => {
      const other = await createVerifiedUser(systemCtx, { name: "Two Places", email: "two.places@corp.example", environmentIds: [w.envs.dev.id, w.envs.prod.id] });
      await w.scim.call("POST", "/Users", { userName: "two.places@corp.example", displayName: "Two Places" });
      expect((await w.scim.call("DELETE", `/Users/${other.id}`)).status).toBe(204);
      const after = await snapshot(other.id);
      expect(after).toMatchObject({ account: { status: "active" }, access: ["prod"], memberships: ["Everyone:system"] });
    });
  });

  describe("CSV import (as a DEV environment admin)", () => {
    async function importAs(ctx: DomainContext, csv: string, apply: boolean) {
      const { saveUpload, inspectUpload, startImport, importItems } = await import("@/lib/import/csv-import");
      const { runPendingJobs } = await import("@/lib/jobs/worker");
      const upload = await saveUpload(new Blob([csv]).stream(), "people.csv", "test");
      const { mapping } = await inspectUpload(upload.id);
      const job = await startImport(ctx, { uploadId: upload.id, environmentId: w.envs.dev.id, mapping, apply });
      await runPendingJobs();
      return importItems(job.id);
    }

    it("a row renaming the user is an error in the dry run and the apply, and changes nothing", async () => {
      const csv = `email,name,environments,groups_dev\n${email},Renamed By Import,dev,Builders\n`;
      for (const apply of [false, true]) {
        await expectUnchanged(async () => {
          const items = await importAs(w.devAdmin, csv, apply);
          expect(items.map((i) => i.outcome)).toEqual(["error"]);
          return items[0]!.detail;
        }, "outside your scope: this user can also enter prod");
      }
    });
  });

  describe("SAML sign-in through the IdP acting for DEV (JIT and group sync on)", () => {
    const assertion = (name: string, groupValues: string[]) => ({ subject: email, attributes: { email: [email], name: [name], groups: groupValues } });

    it("signs the user in to DEV but keeps their name, and the trace says why", async () => {
      await expectUnchanged(async () => {
        const result = await w.sso.signIn(assertion("Renamed By IdP", ["Builders"]), w.envs.dev);
        if (!result.ok) throw new Error(result.reason);
        const [trace] = await getDb().select().from(ssoTraces).where(eq(ssoTraces.id, result.traceId));
        return (trace!.result as { accountKept?: string }).accountKept;
      }, `name left as they are: ${email} can also enter an environment outside DEV.`);
    });

    it("group sync in DEV never touches PROD memberships, even for a group name that exists in PROD", async () => {
      await expectUnchanged(async () => {
        const result = await w.sso.signIn(assertion("Victoria Prod", ["Payroll", "Builders"]), w.envs.dev);
        if (!result.ok) throw new Error(result.reason);
        const [trace] = await getDb().select().from(ssoTraces).where(eq(ssoTraces.id, result.traceId));
        return (trace!.result as { unknownGroups: string[] }).unknownGroups.join(",");
      }, "Payroll");
    });

    it("refuses a suspended user", async () => {
      await whileSuspended(() =>
        expectUnchanged(async () => {
          const result = await w.sso.signIn(assertion("Victoria Prod", []), w.envs.dev);
          return result.ok ? "signed in" : `${result.check}: ${result.reason}`;
        }, `user_status: The account ${email} is suspended.`),
      );
    });

    it("pre-hijack: a DEV admin moves a DEV-only user onto someone's address; that person's first PROD sign-in is not linked to it", async () => {
      const { createUser, updateUser } = await import("@/lib/users");
      const { markEmailVerifiedRows } = await import("@/lib/users/rows");
      const { sendInvitation, setPasswordWithLink } = await import("@/lib/end-user/password-accounts");
      const planted = await createUser(w.devAdmin, { name: "Planted", email: "planted@corp.example", environmentIds: [w.envs.dev.id] });
      await markEmailVerifiedRows(getDb(), [planted.id], { by: "link", environmentId: null }); // as if the admin accepted an invitation
      // An invitation the admin keeps back, then the move onto the other person's address.
      await sendInvitation(w.devAdmin, { userId: planted.id, environmentId: w.envs.dev.id });
      const [mail] = await getDb().execute<{ body: string }>(sql`select body from email_outbox where user_id = ${planted.id} order by created_at desc limit 1`);
      const link = /invite\/(\S+)/.exec(mail!.body)![1]!;
      await updateUser(w.devAdmin, planted.id, { email: "ceo@corp.example" });
      // The link went to the old address: it no longer works, so it cannot prove the new one.
      await expect(setPasswordWithLink("invite", "dev", { token: link, password: "a long and unusual passphrase 42", confirm: "a long and unusual passphrase 42" })).rejects.toThrow(
        "This link was already used or has expired; ask for a new one.",
      );
      const before = await snapshot(planted.id);
      const result = await w.sso.signIn({ subject: "ceo@corp.example", attributes: { email: ["ceo@corp.example"], name: ["The CEO"], groups: [] } });
      expect(result.ok ? "signed in" : `${result.check}`).toBe("email_unverified");
      expect(await snapshot(planted.id)).toEqual(before);
      expect(await countRows("user_identities")).toBe((await getDb().execute<{ n: number }>(sql`select count(*)::int as n from user_identities where user_id <> ${planted.id}`))[0]!.n);
    });
  });

  describe("pre-hijack through the outbox", () => {
    it("a DEV admin who creates a user on someone's address and accepts its invitation from the outbox proves nothing", async () => {
      const { createUser } = await import("@/lib/users");
      const { sendInvitation, setPasswordWithLink } = await import("@/lib/end-user/password-accounts");
      const planted = await createUser(w.devAdmin, { name: "Planted Too", email: "cfo@corp.example", environmentIds: [w.envs.dev.id] });
      await sendInvitation(w.devAdmin, { userId: planted.id, environmentId: w.envs.dev.id });
      const { listOutbox } = await import("@/lib/mail");
      const mail = (await listOutbox(w.devAdmin.actor)).find((m) => m.userId === planted.id)!;
      const link = /invite\/(\S+)/.exec(mail.body)![1]!;
      await setPasswordWithLink("invite", "dev", { token: link, password: "a long and unusual passphrase 43", confirm: "a long and unusual passphrase 43" });
      const result = await w.sso.signIn({ subject: "cfo@corp.example", attributes: { email: ["cfo@corp.example"], name: ["The CFO"], groups: [] } });
      expect(result.ok ? "signed in" : `${result.check}`).toBe("email_unverified");
    });
  });

  describe("background job (\"all matching\", queued by a DEV environment admin)", () => {
    it("suspending all of DEV refuses the user who can also enter PROD, with the reason in the report", async () => {
      const { startBulkAllMatching } = await import("@/lib/users/bulk-job");
      const { importItems } = await import("@/lib/import/csv-import");
      const { runPendingJobs } = await import("@/lib/jobs/worker");
      await expectUnchanged(async () => {
        const job = await startBulkAllMatching(w.devAdmin, { action: "suspend", filter: { environmentId: w.envs.dev.id, q: email } });
        await runPendingJobs();
        const items = await importItems(job.id);
        const line = items.find((i) => i.key === victim.id || i.key === email);
        return line?.detail;
      }, SCOPE);
    });
  });

  describe("the account-wide rule itself", () => {
    it("a DEV admin cannot touch a user who can enter no environment (account-wide), while a DEV directory may bring back one it deprovisioned", async () => {
      const { setUserStatus } = await import("@/lib/users");
      const leaver = (await w.scim.call("POST", "/Users", { userName: "leaver@corp.example", displayName: "Leaver" })).body;
      expect((await w.scim.call("PATCH", `/Users/${leaver.id}`, { Operations: [{ op: "replace", path: "active", value: false }] })).status).toBeLessThan(300);
      expect(await snapshot(leaver.id)).toMatchObject({ account: { status: "deprovisioned" }, access: [] });
      await expect(setUserStatus(w.devAdmin, leaver.id, "active")).rejects.toThrow(ACCOUNT_WIDE);
      expect((await w.scim.call("PATCH", `/Users/${leaver.id}`, { Operations: [{ op: "replace", path: "active", value: true }] })).status).toBeLessThan(300);
      expect(await snapshot(leaver.id)).toMatchObject({ account: { status: "active" }, access: ["dev"] });
    });
  });
});
