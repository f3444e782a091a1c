import type { Metadata } from "next";
import { CONSOLE_ROLE_LABELS } from "@/db/enums";
import { peekConsoleInvitation } from "@/lib/console-members";
import { AcceptInvitationForm } from "./accept-form";

export const metadata: Metadata = { title: "Accept your invitation" };

/** The page behind a console invitation link: the form while the link is usable, else why not. */
export default async function InvitationPage({ params }: { params: Promise<{ token: string }> }) {
  const { token } = await params;
  const invitation = await peekConsoleInvitation(token);
  return (
    <main className="flex min-h-screen items-center justify-center p-6">
      <div className="w-full max-w-sm rounded-lg border border-slate-200 bg-white p-8 shadow-sm">
        <h1 className="text-xl font-semibold">Join the identity console</h1>
        {invitation ? (
          <>
            <p className="mb-4 mt-1 text-sm text-slate-600">
              {invitation.email}, invited as {CONSOLE_ROLE_LABELS[invitation.role].toLowerCase()}. Set your password, then sign in.
            </p>
            <AcceptInvitationForm token={token} email={invitation.email} name={invitation.name} />
          </>
        ) : (
          <p role="alert" className="mt-4 text-sm text-red-800">
            This invitation was already used or has expired; ask an owner or admin to send it again.
          </p>
        )}
      </div>
    </main>
  );
}
