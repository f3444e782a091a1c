import "server-only";
import type { NextAuthOptions } from "next-auth";
import CredentialsProvider from "next-auth/providers/credentials";
import { env } from "@/env";
import { safeRedirectTarget } from "@/lib/net/redirect";
import { CONSOLE_SESSION_HOURS, endConsoleSession, signInConsoleMember } from "./console-sign-in";
import { clientIp } from "./request-info";
import { SIGN_IN_ERRORS } from "./sign-in-errors";
import { MAX_ANSWER_LENGTH } from "@/lib/second-factor";

/**
 * next-auth carries only the id of a server-side session row in its (encrypted, HttpOnly,
 * SameSite=Lax, Secure-under-https) cookie; lib/auth/session.ts checks that row on every request,
 * so sign-out and revocation take effect at once.
 */
export function authOptions(): NextAuthOptions {
  return {
    secret: env().NEXTAUTH_SECRET,
    session: { strategy: "jwt", maxAge: CONSOLE_SESSION_HOURS * 3600 },
    pages: { signIn: "/sign-in", error: "/sign-in" },
    providers: [
      CredentialsProvider({
        name: "Console",
        credentials: { email: { label: "Email", type: "email" }, password: { label: "Password", type: "password" }, code: { label: "Code", type: "text" } },
        async authorize(credentials, req) {
          const email = typeof credentials?.email === "string" ? credentials.email : "";
          const password = typeof credentials?.password === "string" ? credentials.password : "";
          // A code, or a passkey's answer (its JSON).
          const code = typeof credentials?.code === "string" && credentials.code.length <= MAX_ANSWER_LENGTH ? credentials.code : undefined;
          if (!email || !password || email.length > 320 || password.length > 1024) return null;
          const headers = (req?.headers ?? {}) as Record<string, string | undefined>;
          const result = await signInConsoleMember({
            email,
            password,
            code,
            ip: clientIp((name) => headers[name]),
            userAgent: headers["user-agent"],
          });
          // The form asks for the code when told so; the other refusals stay one message (nothing to enumerate).
          if (!result.ok && result.reason === "second_factor_required") throw new Error(SIGN_IN_ERRORS.codeRequired);
          if (!result.ok && result.reason === "second_factor_wrong") throw new Error(SIGN_IN_ERRORS.codeWrong);
          if (!result.ok && result.reason === "sso_required") throw new Error(SIGN_IN_ERRORS.ssoRequired);
          if (!result.ok) return null;
          return { id: result.member.id, email: result.member.email, name: result.member.name, sid: result.sessionId };
        },
      }),
    ],
    callbacks: {
      // Where next-auth sends the browser after signing in or out: our own origin only.
      async redirect({ url, baseUrl }) {
        return `${baseUrl}${safeRedirectTarget(url, baseUrl) ?? "/console"}`;
      },
      async jwt({ token, user }) {
        if (user && "sid" in user) token.sid = user.sid as string;
        return token;
      },
      async session({ session, token }) {
        return { ...session, sid: token.sid };
      },
    },
    events: {
      async signOut({ token }) {
        if (typeof token?.sid === "string") await endConsoleSession(token.sid);
      },
    },
  };
}
