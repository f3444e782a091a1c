"use client";

import { useRef, useState } from "react";
import { Button } from "@/components/ui/button";
import { NewPasswordFields } from "@/components/new-password-fields";
import { useConfirm } from "@/components/ui/modal";
import { useAction } from "@/components/use-action";
import type { FieldErrors } from "@/lib/errors";
import { changeOwnPasswordAction, endOwnSessionsAction } from "./actions";

/** The member's own password: current, new, repeated. `refusal`: why they have none to change (SSO). */
export function ChangePasswordForm({ email, refusal }: { email: string; refusal: string | null }) {
  const { pending, run } = useAction();
  const [errors, setErrors] = useState<FieldErrors>({});
  const form = useRef<HTMLFormElement>(null);
  return (
    <section aria-labelledby="password-title" className="flex flex-col gap-3">
      <h2 id="password-title" className="text-base font-semibold">
        Password
      </h2>
      {refusal ? (
        <p className="text-sm text-slate-700">{refusal}</p>
      ) : (
        <form
          ref={form}
          className="flex max-w-sm flex-col gap-3"
          noValidate
          onSubmit={(e) => {
            e.preventDefault();
            const data = new FormData(e.currentTarget);
            run(() => changeOwnPasswordAction({ current: String(data.get("current") ?? ""), password: String(data.get("password") ?? ""), confirm: String(data.get("confirm") ?? "") }), {
              error: "inline",
              fieldErrors: setErrors,
              success: ({ sessionsEnded }) => (sessionsEnded ? `Password changed; ${sessionsEnded} other session${sessionsEnded === 1 ? "" : "s"} signed out.` : "Password changed."),
              onSuccess: () => form.current?.reset(),
            });
          }}
        >
          {errors._form && (
            <p role="alert" className="rounded-md bg-red-50 p-3 text-sm text-red-800">
              {errors._form.join(" ")}
            </p>
          )}
          <NewPasswordFields email={email} errors={errors} current afterwards="Your other sessions are signed out." />
          <Button type="submit" className="self-start" disabled={pending}>
            Change password
          </Button>
        </form>
      )}
    </section>
  );
}

export type SessionRow = { id: string; current: boolean; method: "password" | "sso"; createdAt: string; lastSeenAt: string; ip: string | null; userAgent: string | null };

/** A short name of the browser and system a user agent names (the full string is in the title). */
function browserOf(userAgent: string | null): string {
  if (!userAgent) return "Unknown browser";
  const browser = /Edg\//.test(userAgent) ? "Edge" : /Firefox\//.test(userAgent) ? "Firefox" : /Chrom(e|ium)\//.test(userAgent) ? "Chrome" : /Safari\//.test(userAgent) ? "Safari" : null;
  const system = /Windows/.test(userAgent) ? "Windows" : /Mac OS X|Macintosh/.test(userAgent) ? "macOS" : /Android/.test(userAgent) ? "Android" : /iPhone|iPad/.test(userAgent) ? "iOS" : /Linux/.test(userAgent) ? "Linux" : null;
  return browser && system ? `${browser} on ${system}` : browser ?? system ?? userAgent.slice(0, 40);
}

// One rendering on the server and in the browser (their locales and zones differ), as the second factors' dates.
const when = (iso: string) => new Date(iso).toLocaleString("en-GB", { dateStyle: "medium", timeStyle: "short", timeZone: "UTC" }) + " UTC";

/** The member's open console sessions: where and when, with sign-out for each other one and for all of them. */
export function OwnSessions({ sessions }: { sessions: SessionRow[] }) {
  const { pending, run } = useAction();
  const [dialog, ask] = useConfirm();
  const others = sessions.filter((s) => !s.current).length;
  const end = (which: string) =>
    run(() => endOwnSessionsAction(which), {
      success: ({ sessionsEnded }) => (which === "others" ? `${sessionsEnded} other session${sessionsEnded === 1 ? "" : "s"} signed out.` : "Session signed out."),
    });
  return (
    <section aria-labelledby="sessions-title" className="flex flex-col gap-3">
      {dialog}
      <div className="flex items-center justify-between gap-3">
        <h2 id="sessions-title" className="text-base font-semibold">
          Sessions
        </h2>
        <Button
          variant="secondary"
          disabled={pending || others === 0}
          onClick={() =>
            ask({
              title: "Sign out of every other session?",
              description: `${others} other session${others === 1 ? "" : "s"} of yours will end at once; this one stays.`,
              confirmLabel: "Sign out others",
              onConfirm: () => end("others"),
            })
          }
        >
          Sign out of all other sessions
        </Button>
      </div>
      <p className="text-sm text-slate-700">Where you are signed in to the console. A session you do not recognise: sign it out, then change your password.</p>
      <table className="w-full text-left text-sm">
        <thead className="text-xs uppercase text-slate-500">
          <tr>
            <th scope="col" className="py-1 pr-3 font-medium">Browser</th>
            <th scope="col" className="py-1 pr-3 font-medium">Address</th>
            <th scope="col" className="py-1 pr-3 font-medium">Signed in</th>
            <th scope="col" className="py-1 pr-3 font-medium">Last active</th>
            <th scope="col" className="py-1 font-medium"><span className="sr-only">Actions</span></th>
          </tr>
        </thead>
        <tbody>
          {sessions.map((s) => (
            <tr key={s.id} className="border-t border-slate-100">
              <td className="py-2 pr-3" title={s.userAgent ?? undefined}>
                {browserOf(s.userAgent)}
                {s.current && <span className="ml-2 rounded bg-green-100 px-1.5 py-0.5 text-xs text-green-800">This session</span>}
              </td>
              <td className="py-2 pr-3 font-mono text-xs">{s.ip ?? "unknown"}</td>
              <td className="py-2 pr-3">
                {when(s.createdAt)}
                <span className="block text-xs text-slate-500">{s.method === "sso" ? "single sign-on" : "password"}</span>
              </td>
              <td className="py-2 pr-3">{when(s.lastSeenAt)}</td>
              <td className="py-2 text-right">
                {!s.current && (
                  <Button variant="secondary" disabled={pending} onClick={() => end(s.id)} aria-label={`Sign out the session of ${browserOf(s.userAgent)} from ${s.ip ?? "an unknown address"}`}>
                    Sign out
                  </Button>
                )}
              </td>
            </tr>
          ))}
        </tbody>
      </table>
    </section>
  );
}
