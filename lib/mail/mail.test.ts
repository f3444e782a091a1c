import { describe, expect, it } from "vitest";
import { memberCtx } from "@/test-support/fixtures";
import { ForbiddenError } from "@/lib/errors";
import { listOutbox, sendMail } from ".";

describe("mail outbox", () => {
  it("keeps mail without SMTP_URL, and shows it only to members who may change users", async () => {
    await sendMail({ to: "someone@example.com", subject: "Hello", text: "a link that sets a password" });
    const mails = await listOutbox(memberCtx("admin").actor);
    expect(mails.map((m) => [m.to, m.subject, m.transport])).toEqual([["someone@example.com", "Hello", "outbox"]]);
    const denied = await listOutbox(memberCtx("reviewer").actor).catch((e) => e);
    expect(denied).toBeInstanceOf(ForbiddenError);
    expect((denied as Error).message).toBe("A reviewer cannot change users.");
  });
});
