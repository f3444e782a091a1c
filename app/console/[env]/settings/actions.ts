"use server";

import { consoleAction } from "@/lib/actions";
import { createApiToken, revokeApiToken } from "@/lib/api/tokens";
import { updateEnvironmentAuth } from "@/lib/sso/environment-auth";
import { rotateSigningKeys } from "@/lib/tokens/keys";

export const createApiTokenAction = consoleAction({ permission: ["api_tokens", "write"] }, async (ctx, input: unknown) => {
  const { token, record } = await createApiToken(ctx, input);
  return { token, id: record.id };
});

export const revokeApiTokenAction = consoleAction({ permission: ["api_tokens", "write"] }, async (ctx, tokenId: string) => {
  await revokeApiToken(ctx, tokenId);
  return null;
});

export const updateEnvironmentAuthAction = consoleAction({ permission: ["environment_auth", "write"] }, async (ctx, environmentId: string, input: unknown) => {
  const settings = await updateEnvironmentAuth(ctx, String(environmentId), input);
  return { version: settings.version };
});

export const rotateSigningKeysAction = consoleAction({ permission: ["signing_keys", "write"] }, async (ctx, input: unknown) => (await rotateSigningKeys(ctx, input))!);
