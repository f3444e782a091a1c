"use server";

import { consoleAction } from "@/lib/actions";
import { createApiToken, revokeApiToken } from "@/lib/api/tokens";

export const createApiTokenAction = consoleAction({ permission: ["api_tokens", "write"] }, async (ctx, input: unknown) => {
  const { token, record } = await createApiToken(ctx, input);
  return { token, id: record.id };
});

export const revokeApiTokenAction = consoleAction({ permission: ["api_tokens", "write"] }, async (ctx, tokenId: string) => {
  await revokeApiToken(ctx, tokenId);
  return null;
});
