import { beforeAll, describe, expect, it } from "vitest";
import type { Environment } from "@/db/schema";
import { createEnvironments, memberCtx, systemCtx } from "@/test-support/fixtures";
import { requestPasswordReset } from "@/lib/end-user/password-accounts";
import { createUser } from "@/lib/users";
import { listOutbox, sendMail } from ".";

// The outbox holds password-reset and invitation links: a DEV admin who could read the reset link of
// someone who also enters PROD could take that PROD account. Each message is shown only to actors
// whose scope covers every environment its recipient can enter.

let env: { dev: Environment; test: Environment; prod: Environment };
beforeAll(async () => {
  env = await createEnvironments();
  await createUser(systemCtx, { name: "Dev And Prod", email: "dev.prod@example.com", environmentIds: [env.dev.id, env.prod.id] });
  await createUser(systemCtx, { name: "Dev Only", email: "Dev.Only@example.com", environmentIds: [env.dev.id] });
  await createUser(systemCtx, { name: "Nowhere", email: "nowhere@example.com", environmentIds: [] });
  // A reset asked at PROD's door, and one at DEV's (the email typed in another case).
  await requestPasswordReset("prod", "dev.prod@example.com");
  await requestPasswordReset("dev", "dev.only@EXAMPLE.com");
  await sendMail({ to: "nowhere@example.com", subject: "For a user with no environment", text: "link" });
  await sendMail({ to: "stranger@example.com", subject: "For no user", text: "link" });
});

const recipients = async (actor: Parameters<typeof listOutbox>[0]) => (await listOutbox(actor)).map((m) => m.to).sort();

describe("mail outbox scope", () => {
  it("shows an owner and an admin every message", async () => {
    const all = ["Dev.Only@example.com", "dev.prod@example.com", "nowhere@example.com", "stranger@example.com"];
    expect(await recipients(memberCtx("owner").actor)).toEqual(all);
    expect(await recipients(memberCtx("admin").actor)).toEqual(all);
  });

  it("hides from a DEV admin the reset link of a user who can also enter PROD, and shows the DEV-only user's", async () => {
    const devAdmin = memberCtx("environment_admin", [env.dev.id]).actor;
    const mails = await listOutbox(devAdmin);
    expect(mails.map((m) => [m.to, m.subject])).toEqual([["Dev.Only@example.com", "Reset your DEV password"]]);
    expect(mails.some((m) => m.to === "dev.prod@example.com")).toBe(false);
    // An admin of both environments sees both resets; still not the account-wide messages.
    expect(await recipients(memberCtx("environment_admin", [env.dev.id, env.prod.id]).actor)).toEqual(["Dev.Only@example.com", "dev.prod@example.com"]);
    // Scoped to an environment none of the recipients enters: nothing.
    expect(await recipients(memberCtx("environment_admin", [env.test.id]).actor)).toEqual([]);
  });

  it("applies the limit after the filter", async () => {
    const devAdmin = memberCtx("environment_admin", [env.dev.id]).actor;
    expect((await listOutbox(devAdmin, 1)).map((m) => m.to)).toEqual(["Dev.Only@example.com"]);
  });

  it("refuses a reviewer with the reason", async () => {
    await expect(listOutbox(memberCtx("reviewer").actor)).rejects.toThrowError("A reviewer cannot change users.");
  });
});
