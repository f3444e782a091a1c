"use client";

import { useId, useState } from "react";
import { Button } from "@/components/ui/button";
import { Field, SelectField } from "@/components/ui/field";
import { useAction } from "@/components/use-action";
import { CONSOLE_ROLE_LABELS, CONSOLE_SSO_ROLES, type ConsoleSsoRole } from "@/db/enums";
import type { FieldErrors } from "@/lib/errors";
import { setConsolePasswordResetAction, setRequireSecondFactorAction, updateConsoleSsoAction } from "./actions";

/** An owner's console-wide switch: what holds now, and the one button that changes it. */
function PolicySwitch({ id, title, text, children, note }: { id: string; title: string; text: string; children: React.ReactNode; note?: React.ReactNode }) {
  return (
    <section aria-labelledby={id} className="flex flex-col gap-3">
      <h2 id={id} className="text-base font-semibold">
        {title}
      </h2>
      <p className="text-sm text-slate-700">{text}</p>
      {children}
      {note}
    </section>
  );
}

export function RequireSecondFactor({ required, ownHasFactor }: { required: boolean; ownHasFactor: boolean }) {
  const { pending, run } = useAction();
  return (
    <PolicySwitch
      id="policy-title"
      title="Console policy"
      text={
        required
          ? "Every console member must have a second factor: members without one are sent to add one at their next sign-in."
          : "Members may sign in with a password alone. Requiring a second factor sends members without one to add one at their next sign-in."
      }
      note={!required && !ownHasFactor && <p className="text-sm text-slate-600">Add a second factor to your own account first.</p>}
    >
      <Button
        className="self-start"
        variant={required ? "secondary" : "primary"}
        disabled={pending || (!required && !ownHasFactor)}
        onClick={() => run(() => setRequireSecondFactorAction({ requireSecondFactor: !required }), { success: required ? "Second factors are optional again." : "Second factors are now required." })}
      >
        {required ? "Stop requiring a second factor" : "Require a second factor for every member"}
      </Button>
    </PolicySwitch>
  );
}

/** Owners: whether members reset a forgotten password themselves from the sign-in page. */
export function PasswordResetPolicy({ allowed }: { allowed: boolean }) {
  const { pending, run } = useAction();
  return (
    <PolicySwitch
      id="reset-policy-title"
      title="Forgotten passwords"
      text={
        allowed
          ? "Members who forget their password ask for a one-hour reset link on the sign-in page. Owners can also send a member a link from Settings → Members."
          : "Members cannot reset a forgotten password themselves: the sign-in page offers no link, and links they asked for earlier no longer work. Owners send a member a link from Settings → Members."
      }
    >
      <Button
        className="self-start"
        variant="secondary"
        disabled={pending}
        onClick={() =>
          run(() => setConsolePasswordResetAction({ selfServiceReset: !allowed }), {
            success: (d) =>
              allowed
                ? `Members can no longer reset a forgotten password themselves${d.linksVoided ? `; ${d.linksVoided} unused link${d.linksVoided === 1 ? "" : "s"} stopped working` : ""}.`
                : "Members can reset a forgotten password themselves again.",
          })
        }
      >
        {allowed ? "Turn off self-service password reset" : "Let members reset a forgotten password"}
      </Button>
    </PolicySwitch>
  );
}

type Option = { id: string; name: string };
type MappingRow = { key: number; idpValue: string; role: ConsoleSsoRole; environmentIds: string[] };

const SSO_ROLE_HELP: Record<ConsoleSsoRole, string> = {
  admin: "Everything but owners and audit retention.",
  environment_admin: "Users, groups, access and sign-in of the chosen environments.",
  reviewer: "Reads everything, changes nothing.",
};

/**
 * Owners: console SSO. Members sign in through one of the connected IdPs; each IdP group value maps
 * to a console role (no mapping, no access); owners keep their password and second factor.
 */
export function ConsoleSsoForm({
  settings,
  identityProviders,
  environments,
  ownHasFactor,
}: {
  settings: { enabled: boolean; identityProviderId: string | null; passwordSignIn: "everyone" | "owners"; mappings: { idpValue: string; role: ConsoleSsoRole; environmentIds: string[] }[] };
  identityProviders: Option[];
  environments: Option[];
  ownHasFactor: boolean;
}) {
  const { pending, run } = useAction();
  const id = useId();
  const [errors, setErrors] = useState<FieldErrors>({});
  const [enabled, setEnabled] = useState(settings.enabled);
  const [idpId, setIdpId] = useState(settings.identityProviderId ?? identityProviders[0]?.id ?? "");
  const [passwordSignIn, setPasswordSignIn] = useState(settings.passwordSignIn);
  const [rows, setRows] = useState<MappingRow[]>(settings.mappings.map((m, key) => ({ key, ...m })));
  const [nextKey, setNextKey] = useState(settings.mappings.length);
  const update = (key: number, change: Partial<MappingRow>) => setRows((all) => all.map((r) => (r.key === key ? { ...r, ...change } : r)));
  const fieldError = (name: string) => errors[name]?.join(" ");

  return (
    <section aria-labelledby="console-sso-title" className="flex flex-col gap-4">
      <h2 id="console-sso-title" className="text-base font-semibold">
        Console single sign-on
      </h2>
      <p className="text-sm text-slate-700">
        Members sign in to the console through an identity provider; the groups it asserts decide their role (no mapped group, no access). Owners are never granted by an IdP: they keep their password
        and second factor as the break-glass way in.
      </p>
      <form
        aria-label="Console single sign-on"
        className="flex flex-col gap-4"
        noValidate
        onSubmit={(e) => {
          e.preventDefault();
          run(
            () =>
              updateConsoleSsoAction({
                enabled,
                identityProviderId: idpId || null,
                passwordSignIn,
                mappings: rows.map((r) => ({ idpValue: r.idpValue, role: r.role, environmentIds: r.role === "environment_admin" ? r.environmentIds : [] })),
              }),
            { success: "Console sign-in settings saved.", fieldErrors: setErrors },
          );
        }}
      >
        <label className="flex items-center gap-2 text-sm">
          <input type="checkbox" checked={enabled} onChange={(e) => setEnabled(e.target.checked)} disabled={!identityProviders.length} />
          Let members sign in through an identity provider
        </label>
        {!identityProviders.length && <p className="text-sm text-slate-600">Connect an identity provider first (an environment&apos;s Identity providers page).</p>}
        <SelectField label="Identity provider" value={idpId} onChange={setIdpId} options={identityProviders} errors={errors.identityProviderId} />
        <fieldset className="flex flex-col gap-1">
          <legend className="text-sm font-medium text-slate-700">Password sign-in</legend>
          <label className="flex items-center gap-2 text-sm">
            <input type="radio" name="passwordSignIn" checked={passwordSignIn === "everyone"} onChange={() => setPasswordSignIn("everyone")} />
            Every member keeps their password
          </label>
          <label className="flex items-center gap-2 text-sm">
            <input type="radio" name="passwordSignIn" checked={passwordSignIn === "owners"} onChange={() => setPasswordSignIn("owners")} disabled={!ownHasFactor} />
            Owners only (break-glass: password and second factor)
          </label>
          {!ownHasFactor && <p className="text-xs text-slate-600">Add a second factor to your own account to keep passwords for owners only.</p>}
          {fieldError("passwordSignIn") && <p className="text-sm text-red-700">{fieldError("passwordSignIn")}</p>}
        </fieldset>
        <fieldset className="flex flex-col gap-2">
          <legend className="text-sm font-medium text-slate-700">Group mappings</legend>
          {rows.length === 0 && <p className="text-sm text-slate-600">No mapping yet: nobody can sign in through the IdP.</p>}
          {rows.map((row, i) => (
            <div key={row.key} className="flex flex-col gap-2 rounded-md border border-slate-200 p-3" role="group" aria-label={`Mapping ${i + 1}`}>
              <div className="flex flex-wrap items-end gap-3">
                <Field
                  label="IdP group value"
                  value={row.idpValue}
                  onChange={(e) => update(row.key, { idpValue: e.target.value })}
                  errors={errors[`mappings.${i}.idpValue`]}
                  className="min-w-48 flex-1"
                />
                <div className="flex flex-col gap-1">
                  <label htmlFor={`${id}-role-${row.key}`} className="text-sm font-medium text-slate-700">
                    Console role
                  </label>
                  <select id={`${id}-role-${row.key}`} value={row.role} onChange={(e) => update(row.key, { role: e.target.value as ConsoleSsoRole })} className="rounded-md border border-slate-300 px-2 py-2 text-sm">
                    {CONSOLE_SSO_ROLES.map((r) => (
                      <option key={r} value={r}>
                        {CONSOLE_ROLE_LABELS[r]}
                      </option>
                    ))}
                  </select>
                </div>
                <Button variant="secondary" type="button" onClick={() => setRows((all) => all.filter((r) => r.key !== row.key))} aria-label={`Remove mapping ${i + 1}`}>
                  Remove
                </Button>
              </div>
              <p className="text-xs text-slate-600">{SSO_ROLE_HELP[row.role]}</p>
              {row.role === "environment_admin" && (
                <div className="flex flex-wrap gap-3" role="group" aria-label={`Environments of mapping ${i + 1}`}>
                  {environments.map((env) => (
                    <label key={env.id} className="flex items-center gap-1 text-sm">
                      <input
                        type="checkbox"
                        checked={row.environmentIds.includes(env.id)}
                        onChange={(e) => update(row.key, { environmentIds: e.target.checked ? [...row.environmentIds, env.id] : row.environmentIds.filter((id) => id !== env.id) })}
                      />
                      {env.name}
                    </label>
                  ))}
                </div>
              )}
              {errors[`mappings.${i}.environmentIds`] && <p className="text-sm text-red-700">{errors[`mappings.${i}.environmentIds`]!.join(" ")}</p>}
            </div>
          ))}
          <Button
            variant="secondary"
            type="button"
            className="self-start"
            onClick={() => {
              setRows((all) => [...all, { key: nextKey, idpValue: "", role: "reviewer", environmentIds: [] }]);
              setNextKey((k) => k + 1);
            }}
          >
            Add mapping
          </Button>
          {fieldError("mappings") && <p className="text-sm text-red-700">{fieldError("mappings")}</p>}
        </fieldset>
        <Button type="submit" className="self-start" disabled={pending}>
          Save console sign-in
        </Button>
      </form>
    </section>
  );
}
