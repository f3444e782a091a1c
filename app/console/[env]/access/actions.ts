"use server";

import { consoleAction } from "@/lib/actions";
import { addGrants, removeGrant } from "@/lib/access/grants";
import { decide } from "@/lib/access/policy";
import { createResource, deleteResource, updateResource } from "@/lib/access/resources";
import { findEnvironmentByKey } from "@/lib/environments";
import { NotFoundError } from "@/lib/errors";
import { FEATURES, type Feature } from "@/db/enums";
import { ValidationError } from "@/lib/errors";

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
export const explainAction = consoleAction({ permission: ["access_grants", "read"] }, async (_ctx, input: { environment: string; userId: string; feature: string; resourceId: string | null }) => {
  const env = await findEnvironmentByKey(String(input?.environment ?? ""));
  if (!env) throw new NotFoundError("No such environment.");
  if (!FEATURES.includes(input.feature as Feature)) throw new ValidationError("Choose a feature.", { feature: ["Choose a feature."] });
  if (!input.userId) throw new ValidationError("Pick a user.", { userId: ["Pick a user."] });
  const [decision] = await decide({ environment: env, user: { id: String(input.userId) }, feature: input.feature as Feature, resources: [input.resourceId ?? null] });
  return decision!;
});
