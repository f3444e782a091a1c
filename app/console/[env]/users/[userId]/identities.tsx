"use client";

import { useState } from "react";
import { Button } from "@/components/ui/button";
import { Field, SelectField } from "@/components/ui/field";
import { ConfirmDialog } from "@/components/ui/modal";
import { useAction } from "@/components/use-action";
import type { FieldErrors } from "@/lib/errors";
import { linkIdentityByHandAction, unlinkIdentityAction } from "../actions";

type Identity = { identityProviderId: string; identityProvider: string; subject: string; firstUsedAt: string; lastUsedAt: string | null };

/** The user's linked identities (IdP and subject, first and last use): unlink one, or link one by hand. */
export function LinkedIdentities({ userId, identities, identityProviders, canWrite }: { userId: string; identities: Identity[]; identityProviders: { id: string; name: string }[]; canWrite: boolean }) {
  const [unlinking, setUnlinking] = useState<Identity | null>(null);
  const [errors, setErrors] = useState<FieldErrors>({});
  const [idpId, setIdpId] = useState(identityProviders[0]?.id ?? "");
  const [subject, setSubject] = useState("");
  const { pending, run } = useAction();
  return (
    <div className="mt-2 flex flex-col gap-3">
      {identities.length === 0 ? (
        <p className="text-sm text-slate-600">No identity provider identity is linked: the next SSO sign-in links one (by a proven email) or is refused.</p>
      ) : (
        <table className="w-full text-left text-sm" aria-label="Linked identities">
          <thead>
            <tr className="text-xs uppercase text-slate-600">
              <th className="py-1 pr-2 font-medium">Identity provider</th>
              <th className="py-1 pr-2 font-medium">Subject</th>
              <th className="py-1 pr-2 font-medium">Linked</th>
              <th className="py-1 pr-2 font-medium">Last use</th>
              <th className="py-1">
                <span className="sr-only">Actions</span>
              </th>
            </tr>
          </thead>
          <tbody>
            {identities.map((i) => (
              <tr key={`${i.identityProviderId}/${i.subject}`} className="border-t border-slate-100">
                <td className="py-1 pr-2">{i.identityProvider}</td>
                <td className="py-1 pr-2 font-mono text-xs">{i.subject}</td>
                <td className="py-1 pr-2">{i.firstUsedAt}</td>
                <td className="py-1 pr-2">{i.lastUsedAt ?? "never"}</td>
                <td className="py-1 text-right">
                  {canWrite && (
                    <Button variant="secondary" className="py-1" onClick={() => setUnlinking(i)} aria-label={`Unlink ${i.subject} at ${i.identityProvider}`}>
                      Unlink
                    </Button>
                  )}
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
      {canWrite && identityProviders.length > 0 && (
        <form
          aria-label="Link an identity by hand"
          className="flex flex-wrap items-end gap-2"
          noValidate
          onSubmit={(e) => {
            e.preventDefault();
            run(() => linkIdentityByHandAction({ userId, identityProviderId: idpId, subject }), {
              fieldErrors: setErrors,
              success: (r) => (r.linked ? "Identity linked." : "Already linked."),
              onSuccess: () => setSubject(""),
            });
          }}
        >
          <SelectField label="Identity provider" value={idpId} onChange={setIdpId} options={identityProviders} errors={errors.identityProviderId} />
          <Field label="Subject (SAML NameID or OIDC sub)" value={subject} onChange={(e) => setSubject(e.target.value)} errors={errors.subject} className="min-w-56 flex-1" />
          <Button type="submit" variant="secondary" disabled={pending}>
            Link identity
          </Button>
        </form>
      )}
      <ConfirmDialog
        open={unlinking !== null}
        onOpenChange={(open) => !open && setUnlinking(null)}
        title="Unlink this identity?"
        description={unlinking ? `A sign-in as ${unlinking.subject} at ${unlinking.identityProvider} will no longer match this user (it may link again by a proven email, or be linked by hand).` : ""}
        confirmLabel="Unlink"
        pending={pending}
        onConfirm={() =>
          unlinking &&
          run(() => unlinkIdentityAction({ userId, identityProviderId: unlinking.identityProviderId, subject: unlinking.subject }), {
            onSuccess: () => setUnlinking(null),
            success: "Identity unlinked.",
            refresh: "always",
          })
        }
      />
    </div>
  );
}
