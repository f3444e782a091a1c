import { encode } from "next-auth/jwt";
import type { ConsoleRole } from "@/db/enums";
import { systemCtx } from "./fixtures";

// Server actions read the session cookie through next/headers. Test files mock that module with
// `vi.mock("next/headers", () => import("@/test-support/console-session").then((m) => m.nextHeadersMock))`
// and sign in as a real console member (real session row, real encrypted cookie).

export const cookieJar = new Map<string, string>();

export const nextHeadersMock = {
  cookies: async () => ({ get: (name: string) => (cookieJar.has(name) ? { name, value: cookieJar.get(name)! } : undefined) }),
  headers: async () => new Headers({ "x-forwarded-for": "203.0.113.9" }),
};

export async function signInAs(role: ConsoleRole, environmentIds: string[] = []): Promise<{ memberId: string; email: string }> {
  const { createConsoleMember } = await import("@/lib/console-members");
  const { signInConsoleMember } = await import("@/lib/auth/console-sign-in");
  const email = `${role}-${crypto.randomUUID().slice(0, 8)}@example.com`;
  const password = "correct horse battery staple";
  await createConsoleMember(systemCtx, { email, name: role, role, password, environmentIds });
  const result = await signInConsoleMember({ email, password });
  if (!result.ok) throw new Error("sign-in failed");
  cookieJar.set("next-auth.session-token", await encode({ token: { sid: result.sessionId, sub: result.member.id }, secret: process.env.NEXTAUTH_SECRET! }));
  return { memberId: result.member.id, email };
}
