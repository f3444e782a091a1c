"use client";

import { useState } from "react";
import { Button } from "@/components/ui/button";
import { Field } from "@/components/ui/field";
import { useAction } from "@/components/use-action";
import type { FieldErrors } from "@/lib/errors";
import { setBrandingLogoAction, updateBrandingAction } from "./actions";

type Values = { displayName: string; primaryColor: string; backgroundColor: string; message: string; supportUrl: string | null; logoUrl: string | null };

/**
 * The environment's branded end-user pages: name, colours, message, support link and logo, with a
 * preview of the sign-in page as they stand in the form. The server checks the colours against
 * WCAG AA (a field error says the contrast found) and the logo (a PNG, or an SVG it sanitises).
 */
export function BrandingForm({ environmentId, environmentName, values, canWrite }: { environmentId: string; environmentName: string; values: Values; canWrite: boolean }) {
  const { pending, run } = useAction();
  const [errors, setErrors] = useState<FieldErrors>({});
  const [draft, setDraft] = useState(values);
  const set = (key: keyof Values) => (e: React.ChangeEvent<HTMLInputElement | HTMLTextAreaElement>) => setDraft((d) => ({ ...d, [key]: e.target.value }));
  const name = draft.displayName.trim() || "Automation platform";
  return (
    <div className="grid gap-6 lg:grid-cols-2">
      <div className="flex flex-col gap-4">
        <form
          aria-label={`Branding of ${environmentName}`}
          className="flex flex-col gap-3"
          noValidate
          onSubmit={(e) => {
            e.preventDefault();
            run(() => updateBrandingAction(environmentId, { displayName: draft.displayName, primaryColor: draft.primaryColor, backgroundColor: draft.backgroundColor, message: draft.message, supportUrl: draft.supportUrl || null }), {
              error: "inline",
              fieldErrors: setErrors,
              success: "Branding saved.",
            });
          }}
        >
          <Field label="Display name" value={draft.displayName} onChange={set("displayName")} placeholder="Automation platform" errors={errors.displayName} disabled={!canWrite} />
          <div className="flex flex-wrap gap-3">
            <Field label="Primary colour (buttons, links)" value={draft.primaryColor} onChange={set("primaryColor")} errors={errors.primaryColor} disabled={!canWrite} className="min-w-56 flex-1" />
            <Field label="Page background" value={draft.backgroundColor} onChange={set("backgroundColor")} errors={errors.backgroundColor} disabled={!canWrite} className="min-w-56 flex-1" />
          </div>
          <div className="flex flex-col gap-1">
            <label htmlFor="branding-message" className="text-sm font-medium text-slate-700">
              Message on the sign-in page
            </label>
            <textarea id="branding-message" value={draft.message} onChange={set("message")} rows={2} maxLength={500} disabled={!canWrite} className="rounded-md border border-slate-300 px-3 py-2 text-sm" />
            {errors.message && <p className="text-sm text-red-700">{errors.message.join(" ")}</p>}
          </div>
          <Field label="Support link (https:// or mailto:)" value={draft.supportUrl ?? ""} onChange={set("supportUrl")} errors={errors.supportUrl} disabled={!canWrite} />
          {errors._form && (
            <p role="alert" className="text-sm text-red-700">
              {errors._form.join(" ")}
            </p>
          )}
          {canWrite && (
            <Button type="submit" className="self-start" disabled={pending}>
              Save branding
            </Button>
          )}
        </form>
        {canWrite && (
          <form
            aria-label="Logo"
            className="flex flex-wrap items-end gap-3"
            onSubmit={(e) => {
              e.preventDefault();
              const data = new FormData(e.currentTarget);
              run(() => setBrandingLogoAction(environmentId, data), { error: "inline", fieldErrors: setErrors, success: "Logo saved." });
            }}
          >
            <div className="flex flex-col gap-1">
              <label htmlFor="branding-logo" className="text-sm font-medium text-slate-700">
                Logo (PNG or SVG, at most 100 KB)
              </label>
              <input id="branding-logo" name="logo" type="file" accept="image/png,image/svg+xml" className="text-sm" aria-describedby={errors.logo ? "branding-logo-error" : undefined} />
              {errors.logo && (
                <p id="branding-logo-error" role="alert" className="text-sm text-red-700">
                  {errors.logo.join(" ")}
                </p>
              )}
            </div>
            <Button type="submit" variant="secondary" disabled={pending}>
              Upload logo
            </Button>
            {values.logoUrl && (
              <Button type="button" variant="secondary" disabled={pending} onClick={() => {
                const data = new FormData();
                data.set("remove", "1");
                run(() => setBrandingLogoAction(environmentId, data), { success: "Logo removed." });
              }}>
                Remove logo
              </Button>
            )}
          </form>
        )}
      </div>
      <figure aria-label="Preview of the sign-in page" data-testid="branding-preview" className="self-start overflow-hidden rounded-lg border border-slate-200">
        <div style={{ backgroundColor: draft.backgroundColor }} className="p-4 text-slate-900">
          <div className="mb-4 flex items-center gap-2 rounded bg-white px-3 py-2 text-sm">
            {values.logoUrl && (
              // eslint-disable-next-line @next/next/no-img-element -- the environment's logo, from our own route
              <img src={values.logoUrl} alt="" className="h-5 w-auto" />
            )}
            <span className="font-semibold">{name}</span>
            <span className="text-slate-600">· {environmentName}</span>
          </div>
          <div className="rounded-md bg-white p-4 shadow-sm">
            <p className="font-semibold">Sign in to {environmentName}</p>
            {draft.message.trim() && <p className="mt-2 text-sm text-slate-700">{draft.message}</p>}
            <span className="mt-3 inline-block rounded-md px-3 py-1.5 text-sm font-medium text-white" style={{ backgroundColor: draft.primaryColor }}>
              Continue
            </span>
          </div>
          {draft.supportUrl && (
            <p className="mt-3 text-center text-sm">
              Need help? <span style={{ color: draft.primaryColor }} className="underline">Contact support</span>
            </p>
          )}
        </div>
        <figcaption className="border-t border-slate-200 px-3 py-2 text-xs text-slate-600">Preview (light theme). Save to apply.</figcaption>
      </figure>
    </div>
  );
}
