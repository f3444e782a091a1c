import { FEATURE_LABELS } from "@/db/enums";
import type { GrantView } from "@/lib/access/grants";
import type { GrantRow } from "./access-forms";

/** Grants as the grants editor lists them. */
export function grantRows(grants: GrantView[], inherited = false): GrantRow[] {
  return grants.map((g) => ({
    id: g.id,
    subjectType: g.subject.type,
    subjectName: g.subject.name,
    detail: g.subject.type === "user" ? g.subject.email : "",
    scope: inherited ? "inherited" : g.tool ? `only the ${g.tool} tool` : g.resourceId ? "this resource" : `all of ${FEATURE_LABELS[g.feature]}`,
  }));
}
