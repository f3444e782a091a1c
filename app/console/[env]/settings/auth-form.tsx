"use client";

import { useState } from "react";
import { Button } from "@/components/ui/button";
import { Field, SelectField } from "@/components/ui/field";
import { useAction } from "@/components/use-action";
import { fieldErrorsUnder, type FieldErrors } from "@/lib/errors";
import { updateEnvironmentAuthAction } from "./actions";

export type AuthFormValues = {
  environmentId: string;
  environmentName: string;
  version: number;
  passwordEnabled: boolean;
  ssoEnabled: boolean;
  identityProviderId: string | null;
  enforcement: "all" | "domains" | "optional";
  enforcedDomains: string[];
  breakGlassEmails: string[];
  jitEnabled: boolean;
  jitGroupIds: string[];
  groupSyncEnabled: boolean;
  groupAttribute: string | null;
  sessionLifetimeMinutes: number;
  idleTimeoutMinutes: number;
  tokenLifetimeSeconds: number;
  secondFactor: "off" | "optional" | "required";
  oauthDynamicRegistration: boolean;
  oauthClientMetadataDocuments: boolean;
  additionalIdentityProviders: { identityProviderId: string; domains: string[] }[];
};

const list = (v: FormDataEntryValue | null) =>
  String(v ?? "")
    .split(/[\s,;]+/)
    .map((s) => s.trim())
    .filter(Boolean);

export function EnvironmentAuthForm({
  values,
  identityProviders,
  groups,
  canWrite,
}: {
  values: AuthFormValues;
  identityProviders: { id: string; name: string }[];
  groups: { id: string; name: string }[];
  canWrite: boolean;
}) {
  const [errors, setErrors] = useState<FieldErrors>({});
  const [sso, setSso] = useState(values.ssoEnabled);
  const [enforcement, setEnforcement] = useState(values.enforcement);
  const [additional, setAdditional] = useState(values.additionalIdentityProviders.map((a) => ({ key: a.identityProviderId, identityProviderId: a.identityProviderId, domains: a.domains.join(", ") })));
  const errorsUnder = (field: string) => fieldErrorsUnder(errors, field);
  const { pending, run } = useAction();
  const err = (k: string) => errors[k]?.join(" ");
  return (
    <form
      aria-label={`Authentication for ${values.environmentName}`}
      className="flex flex-col gap-5"
      noValidate
      onSubmit={(e) => {
        e.preventDefault();
        const d = new FormData(e.currentTarget);
        run(
          () =>
            updateEnvironmentAuthAction(values.environmentId, {
              passwordEnabled: d.get("passwordEnabled") === "on",
              ssoEnabled: d.get("ssoEnabled") === "on",
              identityProviderId: (d.get("identityProviderId") as string) || null,
              enforcement: d.get("enforcement"),
              enforcedDomains: list(d.get("enforcedDomains")),
              breakGlassEmails: list(d.get("breakGlassEmails")),
              jitEnabled: d.get("jitEnabled") === "on",
              jitGroupIds: d.getAll("jitGroupIds"),
              groupSyncEnabled: d.get("groupSyncEnabled") === "on",
              groupAttribute: (d.get("groupAttribute") as string) || null,
              sessionLifetimeMinutes: Number(d.get("sessionLifetimeMinutes")),
              idleTimeoutMinutes: Number(d.get("idleTimeoutMinutes")),
              tokenLifetimeSeconds: Number(d.get("tokenLifetimeSeconds")),
              secondFactor: d.get("secondFactor"),
              oauthDynamicRegistration: d.get("oauthDynamicRegistration") === "on",
              oauthClientMetadataDocuments: d.get("oauthClientMetadataDocuments") === "on",
              additionalIdentityProviders: additional.map((a) => ({ identityProviderId: a.identityProviderId, domains: list(a.domains) })),
              expectedVersion: values.version,
            }),
          { error: "inline", fieldErrors: setErrors, success: "Authentication settings saved." },
        );
      }}
    >
      {errors._form && (
        <p role="alert" className="text-sm text-red-700">
          {errors._form.join(" ")}
        </p>
      )}
      <fieldset disabled={!canWrite} className="flex flex-col gap-5">
        <div className="flex flex-col gap-2 text-sm">
          <label className="flex items-center gap-2">
            <input type="checkbox" name="passwordEnabled" defaultChecked={values.passwordEnabled} /> Password sign-in
          </label>
          {err("passwordEnabled") && <p className="text-sm text-red-700">{err("passwordEnabled")}</p>}
          <label className="flex items-center gap-2">
            <input type="checkbox" name="ssoEnabled" checked={sso} onChange={(e) => setSso(e.target.checked)} /> Single sign-on (SAML or OpenID Connect)
          </label>
        </div>
        <div className="grid gap-4 md:grid-cols-2">
          <label className="flex flex-col gap-1 text-sm font-medium text-slate-700">
            Identity provider (main)
            <select name="identityProviderId" defaultValue={values.identityProviderId ?? ""} aria-invalid={err("identityProviderId") ? true : undefined} className="rounded-md border border-slate-300 px-2 py-2 text-sm">
              <option value="">None</option>
              {identityProviders.map((i) => (
                <option key={i.id} value={i.id}>
                  {i.name}
                </option>
              ))}
            </select>
            {err("identityProviderId") && <span className="text-sm font-normal text-red-700">{err("identityProviderId")}</span>}
          </label>
          <fieldset className="flex flex-col gap-1 text-sm">
            <legend className="font-medium text-slate-700">SSO is required for</legend>
            {(
              [
                ["all", "Everyone"],
                ["domains", "Emails of these domains"],
                ["optional", "No one (SSO is optional)"],
              ] as const
            ).map(([value, label]) => (
              <label key={value} className="flex items-center gap-2">
                <input type="radio" name="enforcement" value={value} checked={enforcement === value} onChange={() => setEnforcement(value)} /> {label}
              </label>
            ))}
          </fieldset>
        </div>
        <fieldset className="flex flex-col gap-2 text-sm" aria-describedby="more-idps-help">
          <legend className="font-medium text-slate-700">More identity providers, by email domain</legend>
          <p id="more-idps-help" className="text-xs text-slate-600">
            An email of a listed domain signs in with that IdP (several IdPs for one domain: the person chooses); every other email uses the main one.
          </p>
          {additional.map((a, i) => (
            <div key={a.key} className="grid items-start gap-2 md:grid-cols-[1fr_2fr_auto]" data-testid="more-idp-row">
              <SelectField
                label="Identity provider"
                value={a.identityProviderId}
                onChange={(value) => setAdditional(additional.map((x, j) => (j === i ? { ...x, identityProviderId: value } : x)))}
                options={[{ id: "", name: "Choose…" }, ...identityProviders]}
                errors={errorsUnder(`additionalIdentityProviders.${i}.identityProviderId`)}
              />
              <Field
                label="Its email domains (comma-separated)"
                value={a.domains}
                onChange={(e) => setAdditional(additional.map((x, j) => (j === i ? { ...x, domains: e.target.value } : x)))}
                errors={errorsUnder(`additionalIdentityProviders.${i}.domains`)}
              />
              <Button type="button" variant="secondary" className="md:mt-6" onClick={() => setAdditional(additional.filter((_, j) => j !== i))} aria-label={`Remove domain rule ${i + 1}`}>
                Remove
              </Button>
            </div>
          ))}
          {err("additionalIdentityProviders") && <p className="text-sm text-red-700">{err("additionalIdentityProviders")}</p>}
          <div>
            <Button type="button" variant="secondary" onClick={() => setAdditional([...additional, { key: crypto.randomUUID(), identityProviderId: "", domains: "" }])}>
              Add an identity provider for some domains
            </Button>
          </div>
        </fieldset>
        {enforcement === "domains" && (
          <Field label="Domains that must use SSO (comma-separated)" name="enforcedDomains" defaultValue={values.enforcedDomains.join(", ")} errors={errorsUnder("enforcedDomains")} />
        )}
        <Field
          label="Break-glass users: may still use a password while SSO is enforced (emails, comma-separated)"
          name="breakGlassEmails"
          defaultValue={values.breakGlassEmails.join(", ")}
          errors={errorsUnder("breakGlassEmails")}
        />
        <div className="flex flex-col gap-2 text-sm">
          <label className="flex items-center gap-2">
            <input type="checkbox" name="jitEnabled" defaultChecked={values.jitEnabled} /> Just-in-time provisioning: create users (and grant this environment) on their first SSO sign-in
          </label>
          {groups.length > 0 && (
            <fieldset className="ml-6 flex flex-wrap gap-3">
              <legend className="mb-1 text-slate-600">Default groups for new users</legend>
              {groups.map((g) => (
                <label key={g.id} className="flex items-center gap-1">
                  <input type="checkbox" name="jitGroupIds" value={g.id} defaultChecked={values.jitGroupIds.includes(g.id)} /> {g.name}
                </label>
              ))}
            </fieldset>
          )}
          <label className="flex items-center gap-2">
            <input type="checkbox" name="groupSyncEnabled" defaultChecked={values.groupSyncEnabled} /> Group sync: on every SSO sign-in, make SAML-made memberships match the assertion
          </label>
        </div>
        <div className="grid gap-4 md:grid-cols-3">
          <Field label="Groups attribute (blank: the IdP's mapping)" name="groupAttribute" defaultValue={values.groupAttribute ?? ""} errors={errors.groupAttribute} />
          <Field label="Session lifetime (minutes)" name="sessionLifetimeMinutes" type="number" min={5} defaultValue={values.sessionLifetimeMinutes} errors={errors.sessionLifetimeMinutes} />
          <Field label="Idle timeout (minutes)" name="idleTimeoutMinutes" type="number" min={1} defaultValue={values.idleTimeoutMinutes} errors={errors.idleTimeoutMinutes} />
          <Field label="Access token lifetime (seconds)" name="tokenLifetimeSeconds" type="number" min={60} max={3600} defaultValue={values.tokenLifetimeSeconds} errors={errors.tokenLifetimeSeconds} />
          {/* The help stays outside the label: the label names the select alone. */}
          <div className="flex flex-col gap-1">
            <label htmlFor="second-factor-policy" className="text-sm font-medium text-slate-700">
              Second factor on password sign-in
            </label>
            <select id="second-factor-policy" name="secondFactor" defaultValue={values.secondFactor} className="rounded-md border border-slate-300 px-3 py-2 text-sm" aria-describedby="second-factor-help">
              <option value="off">Off</option>
              <option value="optional">Optional: for users who add one</option>
              <option value="required">Required: users add one at their next sign-in</option>
            </select>
            <p id="second-factor-help" className="text-xs text-slate-600">
              An authenticator app or a passkey. Single sign-on relies on the IdP&apos;s own.
            </p>
            {errors.secondFactor && <p className="text-sm text-red-700">{errors.secondFactor.join(" ")}</p>}
          </div>
        </div>
        <fieldset className="flex flex-col gap-2">
          <legend className="text-sm font-medium text-slate-700">MCP clients (OAuth)</legend>
          <label className="flex items-center gap-2 text-sm">
            <input type="checkbox" name="oauthDynamicRegistration" defaultChecked={values.oauthDynamicRegistration} />
            Clients may register themselves (dynamic client registration)
          </label>
          <label className="flex items-center gap-2 text-sm">
            <input type="checkbox" name="oauthClientMetadataDocuments" defaultChecked={values.oauthClientMetadataDocuments} />
            Clients may identify themselves by a Client ID Metadata Document (an https URL)
          </label>
        </fieldset>
        {canWrite && (
          <div>
            <Button type="submit" disabled={pending}>
              Save authentication settings
            </Button>
          </div>
        )}
      </fieldset>
    </form>
  );
}
