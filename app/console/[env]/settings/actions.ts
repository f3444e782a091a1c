"use server";

import { consoleAction } from "@/lib/actions";
import { setBrandingLogo, updateBranding } from "@/lib/branding";
import { MAX_LOGO_BYTES } from "@/lib/branding/logo";
import { createApiToken, revokeApiToken } from "@/lib/api-tokens";
import { updateEnvironmentAuth } from "@/lib/sso/environment-auth";
import { rotateSigningKeys } from "@/lib/tokens/keys";
import { createWebhook, deleteWebhook, retryDelivery, setWebhookEnabled } from "@/lib/webhooks";

export const createApiTokenAction = consoleAction({ permission: ["api_tokens", "write"], stepUp: true }, async (ctx, input: unknown) => {
  const { token, record } = await createApiToken(ctx, input);
  return { token, id: record.id };
});

export const revokeApiTokenAction = consoleAction({ permission: ["api_tokens", "write"] }, async (ctx, tokenId: string) => {
  await revokeApiToken(ctx, tokenId);
  return null;
});

/** Any console member: a token for themselves that reads and decides their own review items (scope "reviewer"). */
export const createReviewerTokenAction = consoleAction({ permission: ["review_decisions", "write"], stepUp: true }, async (ctx, input: unknown) => {
  const { token, record } = await createApiToken(ctx, { ...(typeof input === "object" && input ? input : {}), scope: "reviewer" });
  return { token, id: record.id };
});

/** A member revokes their own reviewer token (lib/api-tokens checks it is theirs). */
export const revokeOwnTokenAction = consoleAction({ permission: ["review_decisions", "write"] }, async (ctx, tokenId: string) => {
  await revokeApiToken(ctx, tokenId);
  return null;
});

export const updateEnvironmentAuthAction = consoleAction({ permission: ["environment_auth", "write"], stepUp: true }, async (ctx, environmentId: string, input: unknown) => {
  const settings = await updateEnvironmentAuth(ctx, String(environmentId), input);
  return { version: settings.version };
});

export const rotateSigningKeysAction = consoleAction({ permission: ["signing_keys", "write"] }, async (ctx, input: unknown) => (await rotateSigningKeys(ctx, input))!);

export const createWebhookAction = consoleAction({ permission: ["webhooks", "write"], stepUp: true }, (ctx, input: unknown) => createWebhook(ctx, input));

export const setWebhookEnabledAction = consoleAction({ permission: ["webhooks", "write"] }, async (ctx, id: string, enabled: boolean) => {
  await setWebhookEnabled(ctx, id, enabled);
  return null;
});

export const deleteWebhookAction = consoleAction({ permission: ["webhooks", "write"] }, async (ctx, id: string) => {
  await deleteWebhook(ctx, id);
  return null;
});

export const retryDeliveryAction = consoleAction({ permission: ["webhooks", "write"] }, async (ctx, deliveryId: unknown) => {
  await retryDelivery(ctx, deliveryId);
  return null;
});

/** The environment's branded end-user pages: name, colours (WCAG AA checked), message, support link (lib/branding). */
export const updateBrandingAction = consoleAction({ permission: ["environment_auth", "write"] }, async (ctx, environmentId: string, input: unknown) => {
  await updateBranding(ctx, String(environmentId), input);
  return null;
});

/** The logo: a PNG or an SVG (sanitised), at most 100 KB; an empty form removes it. */
export const setBrandingLogoAction = consoleAction({ permission: ["environment_auth", "write"] }, async (ctx, environmentId: string, form: FormData) => {
  const file = form instanceof FormData ? form.get("logo") : null;
  const remove = form instanceof FormData && form.get("remove") === "1";
  // No file: an empty upload, which the domain refuses ("Choose a logo file.") once it has checked the scope.
  const bytes = file instanceof Blob ? Buffer.from(await file.slice(0, MAX_LOGO_BYTES + 1).arrayBuffer()) : Buffer.alloc(0);
  await setBrandingLogo(ctx, String(environmentId), remove ? null : bytes);
  return null;
});
