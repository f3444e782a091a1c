"use server";

import { consoleAction } from "@/lib/actions";
import { createDirectory, rotateDirectoryToken, setDirectoryStatus, updateDirectorySettings } from "@/lib/directories";

export const createDirectoryAction = consoleAction({ permission: ["directories", "write"], stepUp: true }, async (ctx, input: unknown) => {
  const { directory, token } = await createDirectory(ctx, input);
  return { id: directory.id, baseUrl: directory.baseUrl, token };
});

export const rotateDirectoryTokenAction = consoleAction({ permission: ["directories", "write"], stepUp: true }, async (ctx, id: string) => {
  const { directory, token } = await rotateDirectoryToken(ctx, String(id));
  return { id: directory.id, baseUrl: directory.baseUrl, token };
});

export const setDirectoryStatusAction = consoleAction({ permission: ["directories", "write"] }, async (ctx, id: string, status: unknown) => {
  const directory = await setDirectoryStatus(ctx, String(id), status);
  return { status: directory.status };
});

export const updateDirectorySettingsAction = consoleAction({ permission: ["directories", "write"] }, async (ctx, id: string, input: unknown) => {
  const directory = await updateDirectorySettings(ctx, String(id), input);
  return { patchAnswer: directory.patchAnswer };
});
