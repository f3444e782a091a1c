"use client";

import { useState } from "react";
import { Button } from "@/components/ui/button";
import { SimpleTable } from "@/components/ui/simple-table";
import { useAction } from "@/components/use-action";
import { rotateSigningKeysAction } from "./actions";

export type KeyRow = { kid: string; algorithm: string; state: string; createdAt: string; activatedAt: string; retiredAt: string; publishUntil: string; published: boolean };

/** The runtime token signing keys and the rotation control. */
export function SigningKeys({ keys, canWrite }: { keys: KeyRow[]; canWrite: boolean }) {
  const [algorithm, setAlgorithm] = useState("EdDSA");
  const { pending, run } = useAction();
  return (
    <div className="flex flex-col gap-4">
      <SimpleTable
        caption="Signing keys"
        rows={keys}
        rowKey={(k) => k.kid}
        empty="No keys yet: the first token or the JWKS creates them."
        columns={[
          { header: "Key id", cell: (k) => <code className="text-xs">{k.kid.slice(0, 16)}…</code> },
          { header: "Algorithm", cell: (k) => k.algorithm },
          { header: "State", cell: (k) => <span data-testid={`key-state-${k.state}`}>{k.state}</span> },
          { header: "Created", cell: (k) => k.createdAt },
          { header: "Active since", cell: (k) => k.activatedAt },
          { header: "Retired", cell: (k) => k.retiredAt },
          { header: "In the JWKS", cell: (k) => (k.published ? (k.state === "retired" ? `until ${k.publishUntil}` : "yes") : "no") },
        ]}
      />
      {canWrite && (
        <form
          className="flex flex-wrap items-end gap-3"
          onSubmit={(e) => {
            e.preventDefault();
            run(() => rotateSigningKeysAction({ algorithm }), {
              success: (d) => `Rotated: ${d.active.slice(0, 8)}… now signs; ${d.retired.slice(0, 8)}… retired.`,
            });
          }}
        >
          <label className="flex flex-col gap-1 text-sm font-medium text-slate-700">
            Algorithm of the new next key
            <select value={algorithm} onChange={(e) => setAlgorithm(e.target.value)} className="rounded-md border border-slate-300 px-2 py-2 text-sm">
              <option value="EdDSA">EdDSA (Ed25519)</option>
              <option value="ES256">ES256 (P-256)</option>
            </select>
          </label>
          <Button type="submit" variant="secondary" disabled={pending}>
            Rotate now
          </Button>
        </form>
      )}
    </div>
  );
}
