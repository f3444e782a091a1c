"use client";

import { useState } from "react";
import { Button } from "@/components/ui/button";
import { Modal, ModalClose } from "@/components/ui/modal";
import { useAction } from "@/components/use-action";
import type { CertificateView } from "@/lib/sso/identity-providers";
import { approveCertificateAction, removeCertificateAction } from "../actions";

function CertificateDetails({ certificate: c }: { certificate: CertificateView }) {
  return (
    <dl className="mt-3 grid grid-cols-[max-content_1fr] gap-x-4 gap-y-1 text-sm">
      <dt className="text-slate-500">SHA-256 fingerprint</dt>
      <dd>
        <code className="break-all text-xs">{c.fingerprint}</code>
      </dd>
      <dt className="text-slate-500">Subject</dt>
      <dd className="break-all">{c.subject}</dd>
      <dt className="text-slate-500">Valid</dt>
      <dd>
        {c.notBefore.slice(0, 10)} to {c.notAfter.slice(0, 10)}
      </dd>
      <dt className="text-slate-500">Read from</dt>
      <dd className="break-all">{c.source ?? "metadata XML pasted in the console"}</dd>
      <dt className="text-slate-500">First seen</dt>
      <dd>{c.addedAt.slice(0, 19).replace("T", " ")} UTC</dd>
    </dl>
  );
}

/**
 * Approve (a pending certificate) and Remove, each confirmed in a dialog that shows the certificate.
 * The last approved certificate has no Remove (the domain refuses it: no sign-in would be accepted)
 * but says what to do instead.
 */
export function CertificateActions({ idpId, idpName, certificate, removable }: { idpId: string; idpName: string; certificate: CertificateView; removable: boolean }) {
  const [dialog, setDialog] = useState<"approve" | "remove" | null>(null);
  const { pending, run } = useAction();
  const short = certificate.fingerprint.slice(0, 11);
  const act = (kind: "approve" | "remove") =>
    run(() => (kind === "approve" ? approveCertificateAction : removeCertificateAction)(idpId, { fingerprint: certificate.fingerprint }), {
      onSettled: () => setDialog(null),
      success: kind === "approve" ? "Certificate approved." : "Certificate removed.",
    });
  return (
    <div className="flex flex-wrap gap-2">
      {certificate.status === "pending" && (
        <Button type="button" variant="secondary" aria-label={`Approve certificate ${short}…`} onClick={() => setDialog("approve")}>
          Approve
        </Button>
      )}
      {removable ? (
        <Button type="button" variant="ghost" aria-label={`Remove certificate ${short}…`} onClick={() => setDialog("remove")}>
          Remove
        </Button>
      ) : (
        <span className="text-xs text-slate-600">The last approved certificate: approve its successor before removing it.</span>
      )}
      <Modal
        open={dialog === "approve"}
        onOpenChange={(open) => setDialog(open ? "approve" : null)}
        title="Approve this signing certificate?"
        description={`From now on, sign-ins with ${idpName} signed by this certificate are accepted. Approve it only if the IdP's administrator confirms this fingerprint: someone who can change the metadata on its way could have put it there.`}
        footer={
          <>
            <ModalClose asChild>
              <Button variant="secondary">Cancel</Button>
            </ModalClose>
            <Button disabled={pending} onClick={() => act("approve")}>
              {pending ? "Approving…" : "Approve certificate"}
            </Button>
          </>
        }
      >
        <CertificateDetails certificate={certificate} />
      </Modal>
      <Modal
        open={dialog === "remove"}
        onOpenChange={(open) => setDialog(open ? "remove" : null)}
        title="Remove this signing certificate?"
        description={
          certificate.status === "approved"
            ? `Sign-ins with ${idpName} signed by this certificate are refused from now on.${certificate.inMetadata ? " The metadata still lists it: the next refresh reads it again, as pending (or approved, if this IdP trusts its metadata URL automatically)." : ""}`
            : `The certificate is dropped.${certificate.inMetadata ? " The metadata still lists it: the next refresh reads it again, as pending." : ""}`
        }
        footer={
          <>
            <ModalClose asChild>
              <Button variant="secondary">Cancel</Button>
            </ModalClose>
            <Button variant="danger" disabled={pending} onClick={() => act("remove")}>
              {pending ? "Removing…" : "Remove certificate"}
            </Button>
          </>
        }
      >
        <CertificateDetails certificate={certificate} />
      </Modal>
    </div>
  );
}
