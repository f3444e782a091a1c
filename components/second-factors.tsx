"use client";

import { useState } from "react";
import { startRegistration, type PublicKeyCredentialCreationOptionsJSON } from "@simplewebauthn/browser";
import { Button } from "@/components/ui/button";
import { Badge } from "@/components/ui/card";
import { CopyButton } from "@/components/ui/copy-button";
import { Field } from "@/components/ui/field";
import { ConfirmDialog } from "@/components/ui/modal";
import { useAction } from "@/components/use-action";
import type { ActionResult } from "@/lib/actions";
import type { FieldErrors } from "@/lib/errors";

// A person's own second factors (console members on /console/security, end users on their home
// page): the list with Remove, an authenticator app (QR code, key, first code), passkeys (the
// browser's WebAuthn call), and recovery codes shown once. The server actions come as a prop.

export type Factor = { id: string; kind: "totp" | "passkey"; name: string; createdAt: string; lastUsedAt: string | null };
const KIND_LABEL: Record<Factor["kind"], string> = { totp: "Authenticator app", passkey: "Passkey" };
const date = (iso: string) => new Date(iso).toLocaleString("en-GB", { dateStyle: "medium", timeStyle: "short", timeZone: "UTC" }) + " UTC";

/** The server actions behind the component: the console's (app/console/security) or an end user's (app/e/[env]). */
export type SecondFactorActions = {
  startTotp: () => Promise<ActionResult<{ factorId: string; secret: string; qrSvg: string; uri: string }>>;
  confirmTotp: (input: unknown) => Promise<ActionResult<{ name: string; recoveryCodes: string[] | null }>>;
  startPasskey: () => Promise<ActionResult<PublicKeyCredentialCreationOptionsJSON>>;
  finishPasskey: (input: unknown) => Promise<ActionResult<{ name: string; recoveryCodes: string[] | null }>>;
  remove: (factorId: string) => Promise<ActionResult<{ removed: boolean }>>;
  regenerate: () => Promise<ActionResult<{ recoveryCodes: string[] }>>;
};

export function SecondFactors({ factors, recoveryCodesLeft, actions }: { factors: Factor[]; recoveryCodesLeft: number; actions: SecondFactorActions }) {
  const { pending, run } = useAction();
  const [codes, setCodes] = useState<string[] | null>(null);
  const [removing, setRemoving] = useState<Factor | null>(null);
  return (
    <section aria-labelledby="factors-title" className="flex flex-col gap-4">
      <h2 id="factors-title" className="text-base font-semibold">
        Second factors
      </h2>
      {factors.length === 0 ? (
        <p className="text-sm text-slate-700">None yet: signing in takes your password alone. Add an authenticator app (Google Authenticator, 1Password, Authy…).</p>
      ) : (
        <ul className="divide-y divide-slate-200 rounded-md border border-slate-200" aria-label="Your second factors">
          {factors.map((f) => (
            <li key={f.id} className="flex flex-wrap items-center gap-x-3 gap-y-1 p-3 text-sm">
              <span className="shrink-0 whitespace-nowrap">
                <Badge tone="green">{KIND_LABEL[f.kind]}</Badge>
              </span>
              <span className="whitespace-nowrap font-medium">{f.name}</span>
              <span className="text-slate-600">added {date(f.createdAt)}{f.lastUsedAt ? `, last used ${date(f.lastUsedAt)}` : ""}</span>
              <Button variant="secondary" className="ml-auto" onClick={() => setRemoving(f)}>
                Remove
              </Button>
            </li>
          ))}
        </ul>
      )}
      <div className="flex flex-wrap items-start gap-3">
        <TotpEnrolment onRecoveryCodes={setCodes} actions={actions} />
        <PasskeyEnrolment onRecoveryCodes={setCodes} actions={actions} />
      </div>
      {factors.length > 0 && (
        <div className="flex flex-wrap items-center gap-3 text-sm">
          <span>
            Recovery codes left: <strong data-testid="recovery-codes-left">{recoveryCodesLeft}</strong> of 10
          </span>
          <Button variant="secondary" disabled={pending} onClick={() => run(() => actions.regenerate(), { onSuccess: (d) => setCodes(d.recoveryCodes), success: "New recovery codes made; the old ones no longer work." })}>
            Make new recovery codes
          </Button>
        </div>
      )}
      {codes && <RecoveryCodes codes={codes} />}
      <ConfirmDialog
        open={removing !== null}
        onOpenChange={(open) => !open && setRemoving(null)}
        title={`Remove ${removing?.name ?? ""}?`}
        description={factors.length === 1 ? "It is your only second factor: your recovery codes stop working too, and signing in takes your password alone." : "Signing in will no longer accept its codes."}
        confirmLabel="Remove"
        pending={pending}
        onConfirm={() => run(() => actions.remove(removing!.id), { onSettled: () => setRemoving(null), success: "Second factor removed." })}
      />
    </section>
  );
}

function RecoveryCodes({ codes }: { codes: string[] }) {
  return (
    <div role="status" className="rounded-md border border-green-300 bg-green-50 p-3 text-sm">
      <p className="font-medium">Your recovery codes. Keep them somewhere safe: each signs you in once if you lose your authenticator. They are shown only this once.</p>
      <ol className="mt-2 grid grid-cols-2 gap-1 font-mono" data-testid="recovery-codes">
        {codes.map((c) => (
          <li key={c}>{c}</li>
        ))}
      </ol>
      <div className="mt-2">
        <CopyButton value={codes.join("\n")} label="the recovery codes" />
      </div>
    </div>
  );
}

/** A passkey: the server's challenge, the browser's WebAuthn call (the authenticator asks the person), the server's check. */
function PasskeyEnrolment({ onRecoveryCodes, actions }: { onRecoveryCodes: (codes: string[]) => void; actions: SecondFactorActions }) {
  const { pending, run } = useAction();
  const [naming, setNaming] = useState(false);
  const [errors, setErrors] = useState<FieldErrors>({});
  if (!naming) {
    return (
      <Button variant="secondary" onClick={() => setNaming(true)}>
        Add a passkey
      </Button>
    );
  }
  return (
    <form
      className="flex flex-col gap-3 rounded-md border border-slate-200 p-4"
      aria-label="Add a passkey"
      onSubmit={(event) => {
        event.preventDefault();
        const name = new FormData(event.currentTarget).get("name") || undefined;
        run(
          async () => {
            const started = await actions.startPasskey();
            if (!started.ok) return started;
            const response = await startRegistration({ optionsJSON: started.data }).catch(() => null);
            if (!response) return { ok: false as const, error: "The passkey was not created. Try again." };
            return actions.finishPasskey({ response, name });
          },
          {
            error: "inline",
            fieldErrors: setErrors,
            success: "Passkey added.",
            onSuccess: (d) => {
              setNaming(false);
              if (d.recoveryCodes) onRecoveryCodes(d.recoveryCodes);
            },
          },
        );
      }}
    >
      <Field label="Passkey name" name="name" defaultValue="Passkey" maxLength={60} errors={errors.name ?? errors.response ?? errors._form} />
      <div className="flex gap-2">
        <Button type="submit" disabled={pending}>
          Create passkey
        </Button>
        <Button type="button" variant="secondary" onClick={() => setNaming(false)}>
          Cancel
        </Button>
      </div>
    </form>
  );
}

function TotpEnrolment({ onRecoveryCodes, actions }: { onRecoveryCodes: (codes: string[]) => void; actions: SecondFactorActions }) {
  const { pending, run } = useAction();
  const [enrolment, setEnrolment] = useState<{ factorId: string; secret: string; qrSvg: string } | null>(null);
  const [errors, setErrors] = useState<FieldErrors>({});
  if (!enrolment) {
    return (
      <Button disabled={pending} onClick={() => run(() => actions.startTotp(), { onSuccess: setEnrolment, refresh: false })}>
        Add an authenticator app
      </Button>
    );
  }
  return (
    <form
      className="flex flex-col gap-3 rounded-md border border-slate-200 p-4"
      aria-label="Add an authenticator app"
      onSubmit={(event) => {
        event.preventDefault();
        const form = new FormData(event.currentTarget);
        run(() => actions.confirmTotp({ factorId: enrolment.factorId, code: form.get("code"), name: form.get("name") || undefined }), {
          error: "inline",
          fieldErrors: setErrors,
          success: "Authenticator app added.",
          onSuccess: (d) => {
            setEnrolment(null);
            if (d.recoveryCodes) onRecoveryCodes(d.recoveryCodes);
          },
        });
      }}
    >
      <p className="text-sm">Scan this code with your authenticator app, or type the key, then enter the 6-digit code it shows.</p>
      {/* The SVG is made on the server by the qrcode library from the otpauth URI (no user content). */}
      <div className="h-48 w-48 bg-white p-1" role="img" aria-label="QR code of the authenticator key" dangerouslySetInnerHTML={{ __html: enrolment.qrSvg }} />
      <p className="text-sm">
        Key: <code data-testid="totp-secret" className="break-all rounded bg-slate-100 px-1 font-mono">{enrolment.secret}</code>
      </p>
      <Field label="Name" name="name" defaultValue="Authenticator app" maxLength={60} errors={errors.name} />
      <Field label="Code from the app" name="code" autoComplete="one-time-code" inputMode="numeric" required errors={errors.code ?? errors._form} />
      <div className="flex gap-2">
        <Button type="submit" disabled={pending}>
          Confirm
        </Button>
        <Button type="button" variant="secondary" onClick={() => setEnrolment(null)}>
          Cancel
        </Button>
      </div>
    </form>
  );
}

