"use server";

import { consoleAction } from "@/lib/actions";
import { paletteSearch } from "@/lib/search/palette";

/** The command palette's server-side search in one environment. */
export const paletteSearchAction = consoleAction({ permission: ["users", "read"] }, async (ctx, input: unknown) => paletteSearch(ctx, input));
