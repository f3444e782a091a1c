"use client";

import { useState } from "react";
import { Button } from "@/components/ui/button";
import { Field } from "@/components/ui/field";
import { useAction } from "@/components/use-action";
import type { FieldErrors } from "@/lib/errors";
import { ATTRIBUTE_PRESETS } from "@/lib/sso/presets";
import { createIdpAction } from "./actions";

const PRESETS = Object.entries(ATTRIBUTE_PRESETS).map(([value, p]) => [value, p.label] as const);

export function AddIdpForm({ envKey, redirectUri }: { envKey: string; redirectUri: string }) {
  const [errors, setErrors] = useState<FieldErrors>({});
  const [xml, setXml] = useState("");
  const [protocol, setProtocol] = useState<"saml" | "oidc">("saml");
  const { pending, run } = useAction();
  return (
    <form
      className="flex flex-col gap-4"
      noValidate
      onSubmit={(e) => {
        e.preventDefault();
        const data = new FormData(e.currentTarget);
        const input =
          protocol === "oidc"
            ? {
                protocol,
                name: data.get("name"),
                oidcIssuer: data.get("oidcIssuer"),
                oidcClientId: data.get("oidcClientId"),
                oidcClientSecret: data.get("oidcClientSecret"),
                oidcScopes: data.get("oidcScopes"),
                oidcTokenAuthMethod: data.get("oidcTokenAuthMethod"),
              }
            : { name: data.get("name"), preset: data.get("preset") ?? undefined, metadataUrl: data.get("metadataUrl"), metadataXml: xml };
        run(() => createIdpAction(input), {
          error: "inline",
          fieldErrors: setErrors,
          success: "Identity provider connected.",
          redirectTo: (d) => `/console/${envKey}/identity-providers/${d.id}`,
        });
      }}
    >
      {errors._form && (
        <p role="alert" className="text-sm text-red-700">
          {errors._form.join(" ")}
        </p>
      )}
      <fieldset className="flex flex-wrap gap-4 text-sm">
        <legend className="mb-1 text-sm font-medium text-slate-700">Protocol</legend>
        {(
          [
            ["saml", "SAML 2.0 (metadata)"],
            ["oidc", "OpenID Connect (discovery)"],
          ] as const
        ).map(([value, label]) => (
          <label key={value} className="flex items-center gap-2">
            <input type="radio" name="protocol" value={value} checked={protocol === value} onChange={() => setProtocol(value)} /> {label}
          </label>
        ))}
      </fieldset>
      <div className="grid gap-4 md:grid-cols-2">
        <Field label="Name" name="name" errors={errors.name} placeholder="Okta (corporate)" />
        {protocol === "saml" && (
        <label className="flex flex-col gap-1 text-sm font-medium text-slate-700">
          Kind (attribute mapping preset)
          <select name="preset" defaultValue="generic" className="rounded-md border border-slate-300 px-2 py-2 text-sm">
            {PRESETS.map(([value, label]) => (
              <option key={value} value={value}>
                {label}
              </option>
            ))}
          </select>
        </label>
        )}
      </div>
      {protocol === "oidc" && (
        <>
          <p className="text-sm text-slate-600">
            Register a web application at the IdP with the redirect URI <code className="break-all rounded bg-slate-100 px-1">{redirectUri}</code>, then enter what it gives you.
          </p>
          <Field label="Issuer (or its discovery URL)" name="oidcIssuer" type="url" errors={errors.oidcIssuer} placeholder="https://login.example.com/realms/corp" />
          <div className="grid gap-4 md:grid-cols-2">
            <Field label="Client ID" name="oidcClientId" errors={errors.oidcClientId} autoComplete="off" />
            <Field label="Client secret" name="oidcClientSecret" type="password" errors={errors.oidcClientSecret} autoComplete="new-password" />
          </div>
          <div className="grid gap-4 md:grid-cols-2">
            <Field label="Scopes" name="oidcScopes" defaultValue="openid email profile" errors={errors.oidcScopes} />
            <TokenAuthMethodSelect defaultValue="client_secret_basic" errors={errors.oidcTokenAuthMethod} />
          </div>
        </>
      )}
      {protocol === "saml" && (
        <>
      <Field label="Metadata URL" name="metadataUrl" type="url" errors={errors.metadataUrl} placeholder="https://idp.example.com/app/…/sso/saml/metadata" />
      <div className="flex flex-col gap-1">
        <label htmlFor="metadata-xml" className="text-sm font-medium text-slate-700">
          …or metadata XML (paste, or choose a file)
        </label>
        <textarea
          id="metadata-xml"
          rows={5}
          value={xml}
          onChange={(e) => setXml(e.target.value)}
          aria-invalid={errors.metadataXml ? true : undefined}
          aria-describedby={errors.metadataXml ? "metadata-xml-error" : undefined}
          className="rounded-md border border-slate-300 px-3 py-2 font-mono text-xs"
        />
        <input
          type="file"
          accept=".xml,application/xml,text/xml"
          aria-label="Metadata XML file"
          className="text-sm"
          onChange={async (e) => {
            const file = e.target.files?.[0];
            if (file) setXml(await file.text());
          }}
        />
        {errors.metadataXml && (
          <p id="metadata-xml-error" className="text-sm text-red-700">
            {errors.metadataXml.join(" ")}
          </p>
        )}
      </div>
        </>
      )}
      <div>
        <Button type="submit" disabled={pending}>
          {pending ? "Connecting…" : "Add identity provider"}
        </Button>
      </div>
    </form>
  );
}

/** How our client authenticates at the IdP's token endpoint: as the client is registered there. */
export function TokenAuthMethodSelect({ defaultValue, errors }: { defaultValue: string; errors?: string[] }) {
  return (
    <label className="flex flex-col gap-1 text-sm font-medium text-slate-700">
      Client authentication (as registered at the IdP)
      <select name="oidcTokenAuthMethod" defaultValue={defaultValue} aria-invalid={errors?.length ? true : undefined} className="rounded-md border border-slate-300 px-2 py-2 text-sm">
        <option value="client_secret_basic">client_secret_basic (HTTP Basic; Okta, Keycloak, Entra ID)</option>
        <option value="client_secret_post">client_secret_post (in the form; Auth0&apos;s default)</option>
      </select>
      {errors?.length ? <span className="text-sm font-normal text-red-700">{errors.join(" ")}</span> : null}
    </label>
  );
}
