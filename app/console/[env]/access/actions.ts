"use server";

import { consoleAction } from "@/lib/actions";
import { addGrants, removeGrant } from "@/lib/access/grants";
import { explain } from "@/lib/access/policy";
import { createResource, deleteResource, updateResource } from "@/lib/access/resources";

export const createResourceAction = consoleAction({ permission: ["resources", "write"] }, async (ctx, input: unknown) => {
  const r = await createResource(ctx, input);
  return { id: r.id };
});

export const updateResourceAction = consoleAction({ permission: ["resources", "write"] }, async (ctx, id: string, input: unknown) => {
  const r = await updateResource(ctx, String(id), input);
  return { name: r.name };
});

export const deleteResourceAction = consoleAction({ permission: ["resources", "write"] }, async (ctx, id: string) => {
  await deleteResource(ctx, String(id));
  return null;
});

export const addGrantsAction = consoleAction({ permission: ["access_grants", "write"] }, async (ctx, input: unknown) => addGrants(ctx, input));

export const removeGrantAction = consoleAction({ permission: ["access_grants", "write"] }, async (ctx, grantId: string) => {
  await removeGrant(ctx, String(grantId));
  return null;
});

/** Explain: the answer for one user and one resource (or the whole feature), with its path. */
export const explainAction = consoleAction({ permission: ["access_grants", "read"] }, async (ctx, input: unknown) => explain(ctx, input));
