"use client";

import { useState, useTransition } from "react";
import { toast } from "sonner";
import { Badge } from "@/components/ui/card";
import { Button } from "@/components/ui/button";
import { Field } from "@/components/ui/field";
import type { FieldErrors } from "@/lib/errors";
import { createApiTokenAction, revokeApiTokenAction } from "./actions";

type TokenRow = { id: string; name: string; hint: string; scope: string; environments: string; createdAt: string; lastUsedAt: string; state: string };

export function ApiTokens({ tokens, environments, canWrite }: { tokens: TokenRow[]; environments: { id: string; name: string }[]; canWrite: boolean }) {
  const [errors, setErrors] = useState<FieldErrors>({});
  const [secret, setSecret] = useState<string | null>(null);
  const [pending, start] = useTransition();

  return (
    <div className="mt-4 flex flex-col gap-4">
      {secret && (
        <div role="status" className="rounded-md border border-green-300 bg-green-50 p-3 text-sm">
          <p className="font-medium">Copy the token now: it is shown only this once.</p>
          <code data-testid="new-token" className="mt-1 block break-all rounded bg-white p-2">
            {secret}
          </code>
        </div>
      )}
      {canWrite && (
        <form
          className="flex flex-wrap items-end gap-3"
          noValidate
          onSubmit={(e) => {
            e.preventDefault();
            const form = e.currentTarget;
            const data = new FormData(form);
            start(async () => {
              const result = await createApiTokenAction({ name: data.get("name"), scope: data.get("scope"), environmentIds: data.getAll("environmentIds") });
              if (result.ok) {
                setErrors({});
                setSecret(result.data.token);
                form.reset();
              } else setErrors(result.fieldErrors ?? { _form: [result.error] });
            });
          }}
        >
          <Field label="Token name" name="name" errors={errors.name} />
          <label className="flex flex-col gap-1 text-sm font-medium text-slate-700">
            Scope
            <select name="scope" className="rounded-md border border-slate-300 px-2 py-2 text-sm" defaultValue="read">
              <option value="read">Read</option>
              <option value="write">Read and write</option>
            </select>
          </label>
          <fieldset className="flex flex-col gap-1">
            <legend className="text-sm font-medium text-slate-700">Environments (none: all)</legend>
            <div className="flex gap-3">
              {environments.map((env) => (
                <label key={env.id} className="flex items-center gap-1 text-sm">
                  <input type="checkbox" name="environmentIds" value={env.id} />
                  {env.name}
                </label>
              ))}
            </div>
          </fieldset>
          <Button type="submit" disabled={pending}>
            Create token
          </Button>
          {errors._form && <p className="w-full text-sm text-red-700">{errors._form.join(" ")}</p>}
        </form>
      )}
      <table className="w-full text-left text-sm">
        <caption className="sr-only">API tokens</caption>
        <thead className="bg-slate-50 text-xs uppercase text-slate-500">
          <tr>
            <th scope="col" className="px-3 py-2">Name</th>
            <th scope="col" className="px-3 py-2">Token</th>
            <th scope="col" className="px-3 py-2">Scope</th>
            <th scope="col" className="px-3 py-2">Environments</th>
            <th scope="col" className="px-3 py-2">Created</th>
            <th scope="col" className="px-3 py-2">Last used</th>
            <th scope="col" className="px-3 py-2">State</th>
            <th scope="col" className="px-3 py-2"><span className="sr-only">Actions</span></th>
          </tr>
        </thead>
        <tbody>
          {tokens.map((t) => (
            <tr key={t.id} className="border-t border-slate-100">
              <td className="px-3 py-2 font-medium">{t.name}</td>
              <td className="px-3 py-2 font-mono text-xs">{t.hint}…</td>
              <td className="px-3 py-2">{t.scope}</td>
              <td className="px-3 py-2">{t.environments}</td>
              <td className="px-3 py-2">{t.createdAt}</td>
              <td className="px-3 py-2">{t.lastUsedAt}</td>
              <td className="px-3 py-2">
                <Badge tone={t.state === "active" ? "green" : "slate"}>{t.state}</Badge>
              </td>
              <td className="px-3 py-2">
                {canWrite && t.state === "active" && (
                  <Button
                    variant="ghost"
                    className="text-red-700"
                    onClick={() =>
                      window.confirm(`Revoke “${t.name}”? Clients using it stop working at once.`) &&
                      start(async () => {
                        const r = await revokeApiTokenAction(t.id);
                        if (r.ok) toast.success("Revoked.");
                        else toast.error(r.error);
                      })
                    }
                  >
                    Revoke
                  </Button>
                )}
              </td>
            </tr>
          ))}
          {tokens.length === 0 && (
            <tr>
              <td colSpan={8} className="px-3 py-6 text-center text-slate-500">
                No API token yet.
              </td>
            </tr>
          )}
        </tbody>
      </table>
    </div>
  );
}
