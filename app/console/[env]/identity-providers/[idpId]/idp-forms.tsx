"use client";

import { useState, useTransition } from "react";
import { Button } from "@/components/ui/button";
import { DangerAction } from "@/components/ui/modal";
import { Field } from "@/components/ui/field";
import { useAction } from "@/components/use-action";
import { fieldErrorsOfShownRows, type FieldErrors } from "@/lib/errors";
import { ATTRIBUTE_PRESETS } from "@/lib/sso/presets";
import { TokenAuthMethodSelect } from "../add-idp-form";
import { deleteIdpAction, previewTraceAction, refreshMetadataAction, setGroupMappingsAction, updateIdpAction } from "../actions";

const presets = Object.entries(ATTRIBUTE_PRESETS).map(([key, p]) => ({ key, ...p }));
type IdpForm = {
  id: string;
  name: string;
  preset: string;
  version: number;
  attributeMapping: { email: string; name: string; groups: string };
  allowIdpInitiated: boolean;
  allowSha1: boolean;
  createGroupsFromAssertion: boolean;
  autoTrustRollover: boolean;
  hasMetadataUrl: boolean;
  protocol: "saml" | "oidc";
};

function FormMessage({ errors }: { errors: FieldErrors }) {
  return errors._form ? (
    <p role="alert" className="text-sm text-red-700">
      {errors._form.join(" ")}
    </p>
  ) : null;
}

export function IdpSettingsForm({ idp, canWrite }: { idp: IdpForm; canWrite: boolean }) {
  const [errors, setErrors] = useState<FieldErrors>({});
  const [mapping, setMapping] = useState(idp.attributeMapping);
  const [preset, setPreset] = useState(idp.preset);
  const { pending, run } = useAction();
  return (
    <form
      className="flex flex-col gap-4"
      noValidate
      onSubmit={(e) => {
        e.preventDefault();
        const data = new FormData(e.currentTarget);
        run(
          () =>
            updateIdpAction(idp.id, {
              name: data.get("name"),
              ...(idp.protocol === "saml" ? { preset } : {}),
              attributeMapping: mapping,
              ...(idp.protocol === "saml" ? { allowIdpInitiated: data.get("allowIdpInitiated") === "on", allowSha1: data.get("allowSha1") === "on" } : {}),
              createGroupsFromAssertion: data.get("createGroupsFromAssertion") === "on",
              ...(idp.hasMetadataUrl ? { autoTrustRollover: data.get("autoTrustRollover") === "on" } : {}),
              expectedVersion: idp.version,
            }),
          { error: "inline", fieldErrors: setErrors, success: "Saved." },
        );
      }}
    >
      <FormMessage errors={errors} />
      <fieldset disabled={!canWrite} className="flex flex-col gap-4">
        <div className="grid gap-4 md:grid-cols-2">
          <Field label="Name" name="name" defaultValue={idp.name} errors={errors.name} />
          {idp.protocol === "saml" && (
          <label className="flex flex-col gap-1 text-sm font-medium text-slate-700">
            Attribute preset
            <select
              value={preset}
              onChange={(e) => {
                setPreset(e.target.value);
                const p = presets.find((x) => x.key === e.target.value);
                if (p) setMapping({ email: p.email, name: p.name, groups: p.groups });
              }}
              className="rounded-md border border-slate-300 px-2 py-2 text-sm"
            >
              {presets.map((p) => (
                <option key={p.key} value={p.key}>
                  {p.label}
                </option>
              ))}
            </select>
          </label>
          )}
        </div>
        <div className="grid gap-4 md:grid-cols-3">
          {(["email", "name", "groups"] as const).map((k) => (
            <Field
              key={k}
              label={`${k === "email" ? "Email" : k === "name" ? "Name" : "Groups"} ${idp.protocol === "oidc" ? "claim" : "attribute"}`}
              value={mapping[k]}
              onChange={(e) => setMapping({ ...mapping, [k]: e.target.value })}
              errors={errors[`attributeMapping.${k}`]}
            />
          ))}
        </div>
        {idp.protocol === "oidc" && <p className="-mt-2 text-xs text-slate-600">A nested claim is named by its path, as in realm_access.roles; claims come from the ID token and the UserInfo answer.</p>}
        <div className="flex flex-col gap-2 text-sm">
          {idp.protocol === "saml" && (
            <label className="flex items-center gap-2">
              <input type="checkbox" name="allowIdpInitiated" defaultChecked={idp.allowIdpInitiated} /> Allow IdP-initiated sign-in (from the IdP&apos;s app dashboard)
            </label>
          )}
          <label className="flex items-center gap-2">
            <input type="checkbox" name="createGroupsFromAssertion" defaultChecked={idp.createGroupsFromAssertion} /> Create groups for unknown group values{" "}
            {idp.protocol === "oidc" ? "in the claims" : "in the assertion"}
          </label>
          {idp.protocol === "saml" && (
            <label className="flex items-center gap-2">
              <input type="checkbox" name="allowSha1" defaultChecked={idp.allowSha1} /> Accept SHA-1 signatures (only for an IdP that cannot sign with SHA-256)
            </label>
          )}
          {idp.hasMetadataUrl && (
            <div className="flex flex-col gap-1">
              <label className="flex items-center gap-2">
                <input type="checkbox" name="autoTrustRollover" defaultChecked={idp.autoTrustRollover} aria-describedby="auto-trust-risk" /> Trust rollover certificates from this
                metadata URL automatically
              </label>
              <p id="auto-trust-risk" className="ml-6 text-xs text-amber-800">
                Risk: whoever controls that URL (or its TLS certificate, or its DNS) could add a certificate and sign in as anyone. Off by default: new certificates wait for
                your approval.
              </p>
              {errors.autoTrustRollover && <p className="ml-6 text-sm text-red-700">{errors.autoTrustRollover.join(" ")}</p>}
            </div>
          )}
        </div>
        {canWrite && (
          <div>
            <Button type="submit" disabled={pending}>
              Save
            </Button>
          </div>
        )}
      </fieldset>
    </form>
  );
}

/** An OpenID Connect IdP's client: a new client ID or secret (rotated at the IdP), the scopes; discovery is checked again. */
export function OidcClientForm({
  idpId,
  version,
  clientId,
  scopes,
  tokenAuthMethod,
  canWrite,
}: {
  idpId: string;
  version: number;
  clientId: string;
  scopes: string;
  tokenAuthMethod: string;
  canWrite: boolean;
}) {
  const [errors, setErrors] = useState<FieldErrors>({});
  const { pending, run } = useAction();
  return (
    <form
      className="mt-4 flex flex-col gap-4"
      noValidate
      onSubmit={(e) => {
        e.preventDefault();
        const data = new FormData(e.currentTarget);
        const secret = String(data.get("oidcClientSecret") ?? "");
        run(
          () =>
            updateIdpAction(idpId, {
              oidcClientId: data.get("oidcClientId"),
              oidcScopes: data.get("oidcScopes"),
              oidcTokenAuthMethod: data.get("oidcTokenAuthMethod"),
              ...(secret.trim() ? { oidcClientSecret: secret } : {}),
              expectedVersion: version,
            }),
          { error: "inline", fieldErrors: setErrors, success: "Client saved." },
        );
      }}
    >
      <FormMessage errors={errors} />
      <fieldset disabled={!canWrite} className="flex flex-col gap-4">
        <div className="grid gap-4 md:grid-cols-2">
          <Field label="Client ID" name="oidcClientId" defaultValue={clientId} errors={errors.oidcClientId} autoComplete="off" />
          <Field label="New client secret (leave empty to keep the current one)" name="oidcClientSecret" type="password" errors={errors.oidcClientSecret} autoComplete="new-password" />
        </div>
        <div className="grid gap-4 md:grid-cols-2">
          <Field label="Scopes" name="oidcScopes" defaultValue={scopes} errors={errors.oidcScopes} />
          <TokenAuthMethodSelect defaultValue={tokenAuthMethod} errors={errors.oidcTokenAuthMethod} />
        </div>
        {canWrite && (
          <div>
            <Button type="submit" disabled={pending}>
              Save client
            </Button>
          </div>
        )}
      </fieldset>
    </form>
  );
}

export function RefreshMetadataForm({ idpId, hasMetadataUrl }: { idpId: string; hasMetadataUrl: boolean }) {
  const [errors, setErrors] = useState<FieldErrors>({});
  const [xml, setXml] = useState("");
  const { pending, run } = useAction();
  return (
    <form
      className="mt-3 flex flex-col gap-2"
      onSubmit={(e) => {
        e.preventDefault();
        run(() => refreshMetadataAction(idpId, xml.trim() ? { metadataXml: xml } : {}), {
          error: "inline",
          fieldErrors: setErrors,
          onSuccess: () => setXml(""),
          success: (d) =>
            d.pending.length
              ? `${d.pending.length} new certificate(s) await your approval under Signing certificates.`
              : d.added.length
                ? `Added ${d.added.length} new certificate(s), trusted automatically.`
                : d.changed
                  ? "Metadata updated."
                  : "Metadata unchanged.",
        });
      }}
    >
      <FormMessage errors={errors} />
      {errors.metadataUrl && <p className="text-sm text-red-700">{errors.metadataUrl.join(" ")}</p>}
      <label htmlFor="refresh-xml" className="text-sm text-slate-700">
        {hasMetadataUrl ? "Refresh from the metadata URL, or paste new metadata XML:" : "Paste new metadata XML:"}
      </label>
      <textarea id="refresh-xml" rows={3} value={xml} onChange={(e) => setXml(e.target.value)} className="rounded-md border border-slate-300 px-2 py-1 font-mono text-xs" />
      {errors.metadataXml && <p className="text-sm text-red-700">{errors.metadataXml.join(" ")}</p>}
      <div>
        <Button type="submit" variant="secondary" disabled={pending}>
          {pending ? "Refreshing…" : "Refresh metadata"}
        </Button>
      </div>
    </form>
  );
}

type MappingRow = { idpValue: string; groupId: string };

export function GroupMappingsForm({
  idpId,
  environmentId,
  initial,
  groups,
  canWrite,
}: {
  idpId: string;
  environmentId: string;
  initial: MappingRow[];
  groups: { id: string; name: string }[];
  canWrite: boolean;
}) {
  const [rows, setRows] = useState<MappingRow[]>(initial.length ? initial : []);
  const [errors, setErrors] = useState<FieldErrors>({});
  const { pending, run } = useAction();
  return (
    <form
      className="flex flex-col gap-3"
      onSubmit={(e) => {
        e.preventDefault();
        // Rows left blank (added, never filled) are not sent; the errors of those sent are shown at their row.
        const shown = rows.flatMap((r, i) => (r.idpValue.trim() || r.groupId ? [i] : []));
        run(() => setGroupMappingsAction(idpId, { environmentId, mappings: shown.map((i) => rows[i]!) }), {
          error: "inline",
          fieldErrors: (errs) => setErrors(fieldErrorsOfShownRows(errs, "mappings", shown)),
          success: (d) => `Saved ${d.count} mapping(s).`,
        });
      }}
    >
      <FormMessage errors={errors} />
      {errors.mappings && (
        <p role="alert" className="text-sm text-red-700">
          {errors.mappings.join(" ")}
        </p>
      )}
      {rows.length === 0 && <p className="text-sm text-slate-500">No explicit mapping: a group value matches the group of the same name.</p>}
      {rows.map((row, i) => {
        const valueErrors = errors[`mappings.${i}.idpValue`];
        const groupErrors = errors[`mappings.${i}.groupId`];
        return (
          <div key={i} className="flex flex-wrap items-start gap-2">
            <label className="flex flex-col gap-1 text-sm">
              IdP group value
              <input
                value={row.idpValue}
                aria-invalid={valueErrors ? true : undefined}
                aria-describedby={valueErrors ? `mapping-${i}-value-error` : undefined}
                disabled={!canWrite}
                onChange={(e) => setRows(rows.map((r, j) => (j === i ? { ...r, idpValue: e.target.value } : r)))}
                className="rounded-md border border-slate-300 px-2 py-1.5 text-sm"
              />
              {valueErrors && (
                <span id={`mapping-${i}-value-error`} className="text-xs text-red-700">
                  {valueErrors.join(" ")}
                </span>
              )}
            </label>
            <label className="flex flex-col gap-1 text-sm">
              Group here
              <select
                value={row.groupId}
                aria-invalid={groupErrors ? true : undefined}
                aria-describedby={groupErrors ? `mapping-${i}-group-error` : undefined}
                disabled={!canWrite}
                onChange={(e) => setRows(rows.map((r, j) => (j === i ? { ...r, groupId: e.target.value } : r)))}
                className="rounded-md border border-slate-300 px-2 py-1.5 text-sm"
              >
                <option value="">Choose a group</option>
                {groups.map((g) => (
                  <option key={g.id} value={g.id}>
                    {g.name}
                  </option>
                ))}
              </select>
              {groupErrors && (
                <span id={`mapping-${i}-group-error`} className="text-xs text-red-700">
                  {groupErrors.join(" ")}
                </span>
              )}
            </label>
            {canWrite && (
              <Button
                type="button"
                variant="ghost"
                className="mt-6"
                onClick={() => {
                  setRows(rows.filter((_, j) => j !== i));
                  setErrors({});
                }}
              >
                Remove
              </Button>
            )}
          </div>
        );
      })}
      {canWrite && (
        <div className="flex gap-2">
          <Button type="button" variant="secondary" onClick={() => setRows([...rows, { idpValue: "", groupId: "" }])}>
            Add mapping
          </Button>
          <Button type="submit" disabled={pending}>
            Save mappings
          </Button>
        </div>
      )}
    </form>
  );
}

type Preview = Awaited<ReturnType<typeof previewTraceAction>>;

export function TracePreview({ traceId, environmentId }: { traceId: string; environmentId: string }) {
  const [result, setResult] = useState<Preview | null>(null);
  const [pending, start] = useTransition();
  const data = result?.ok ? result.data : null;
  return (
    <div className="mt-2">
      <Button type="button" variant="secondary" disabled={pending} onClick={() => start(async () => setResult(await previewTraceAction(traceId, environmentId)))}>
        {pending ? "Previewing…" : "Preview sign-in now (writes nothing)"}
      </Button>
      {result && !result.ok && (
        <p role="alert" className="mt-2 text-sm text-red-700">
          {result.error}
        </p>
      )}
      {data && (
        <div data-testid="trace-preview" className="mt-2 rounded-md border border-slate-200 bg-slate-50 p-3 text-sm">
          <p className="font-medium">In {data.environment.name}:</p>
          {"denied" in data && data.denied ? (
            <p className="text-red-800">Refused: {data.denied.reason}</p>
          ) : "plan" in data && data.plan ? (
            <ul className="list-disc pl-5">
              <li>User: {data.plan.user}</li>
              <li>Environment access: {data.plan.access === "grant" ? "granted now" : "already granted"}</li>
              {data.plan.defaultGroups.length > 0 && <li>Default groups: {data.plan.defaultGroups.join(", ")}</li>}
              <li>Groups added: {data.plan.groupsAdded.join(", ") || "none"}</li>
              <li>Groups removed: {data.plan.groupsRemoved.join(", ") || "none"}</li>
              <li>Groups kept: {data.plan.groupsKept.join(", ") || "none"}</li>
              {data.plan.groupsExcluded && data.plan.groupsExcluded.length > 0 && <li>Groups left out: {data.plan.groupsExcluded.join("; ")}</li>}
              {data.plan.unknownGroups.length > 0 && <li>Unknown group values: {data.plan.unknownGroups.join(", ")}</li>}
              {!data.plan.groupSync && <li>Group sync is off for this environment.</li>}
            </ul>
          ) : null}
        </div>
      )}
    </div>
  );
}

export function DeleteIdpButton({ idpId, envKey, name }: { idpId: string; envKey: string; name: string }) {
  const { pending, run } = useAction();
  return (
    <DangerAction
      warning="Remove this identity provider. Users linked to it keep their accounts but can no longer sign in with it."
      buttonLabel="Remove identity provider…"
      disabled={pending}
      title={`Remove ${name}?`}
      description="Users linked to it keep their accounts but can no longer sign in with it. An environment that signs in with it must turn SSO off first."
      confirmLabel="Remove identity provider"
      typeToConfirm={name}
      pending={pending}
      onConfirm={(close) => run(() => deleteIdpAction(idpId), { success: "Identity provider removed.", redirectTo: `/console/${envKey}/identity-providers`, onSettled: close })}
    />
  );
}
