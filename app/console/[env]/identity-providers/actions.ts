"use server";

import { consoleAction } from "@/lib/actions";
import { previewTrace } from "@/lib/sso/flow";
import { linkIdentityFromTrace } from "@/lib/sso/identities";
import { approveCertificate, createIdentityProvider, deleteIdentityProvider, refreshMetadata, removeCertificate, setGroupMappings, updateIdentityProvider } from "@/lib/sso/identity-providers";

export const createIdpAction = consoleAction({ permission: ["identity_providers", "write"], stepUp: true }, async (ctx, input: unknown) => {
  const idp = await createIdentityProvider(ctx, input);
  return { id: idp.id };
});

export const updateIdpAction = consoleAction({ permission: ["identity_providers", "write"], stepUp: true }, async (ctx, id: string, input: unknown) => {
  const idp = await updateIdentityProvider(ctx, id, input);
  return { version: idp.version };
});

export const refreshMetadataAction = consoleAction({ permission: ["identity_providers", "write"] }, async (ctx, id: string, input: unknown) => {
  const { added, pending, changed } = await refreshMetadata(ctx, id, input);
  return { added, pending, changed };
});

export const approveCertificateAction = consoleAction({ permission: ["identity_providers", "write"], stepUp: true }, async (ctx, id: string, input: unknown) => {
  await approveCertificate(ctx, id, input);
  return null;
});

export const removeCertificateAction = consoleAction({ permission: ["identity_providers", "write"] }, async (ctx, id: string, input: unknown) => {
  await removeCertificate(ctx, id, input);
  return null;
});

export const deleteIdpAction = consoleAction({ permission: ["identity_providers", "write"] }, async (ctx, id: string) => {
  await deleteIdentityProvider(ctx, id);
  return null;
});

export const setGroupMappingsAction = consoleAction({ permission: ["environment_auth", "write"] }, async (ctx, id: string, input: unknown) => {
  const rows = await setGroupMappings(ctx, id, input);
  return { count: rows.length };
});

// Reading only, but through the same wrapper so it needs a session and read permission.
export const previewTraceAction = consoleAction({ permission: ["identity_providers", "read"], revalidate: [] }, async (_ctx, traceId: string, environmentId?: string) => {
  return previewTrace(String(traceId), environmentId ? String(environmentId) : undefined);
});

export const linkIdentityAction = consoleAction({ permission: ["users", "write"] }, async (ctx, traceId: string) => {
  return linkIdentityFromTrace(ctx, traceId);
});
