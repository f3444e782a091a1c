// Each REST endpoint's command name, `<resource>.<verb>`: the OpenAPI document's operationId and
// what the `iam` CLI (bin/iam.mjs) calls it (`iam users list`, `iam groups add-members ID`). Derived
// from the path and method, so an endpoint added to the table has a command without more work:
//   GET /x → x.list · GET /x/{id} → x.get · POST /x → x.create · PATCH /x/{id} → x.update ·
//   PUT /x/{id} → x.replace · DELETE /x/{id} → x.delete · POST /x/{id}/suspend → x.suspend ·
//   GET /x/{id}/members → x.members · POST on a path that also answers GET → x.add-members ·
//   POST /x/{id}/members/remove → x.remove-members (and /certificates/approve → approve-certificates) · PUT /x/{id}/y/{k} → x.set-y ·
//   DELETE /x/{id}/y/{k} → x.remove-y

type Route = { method: string; path: string };

export function commandOf(route: Route, all: readonly Route[]): string {
  const segments = route.path.split("/").filter(Boolean);
  const resource = segments[0]!;
  const rest = segments.slice(1).filter((s) => !s.startsWith("{"));
  const endsWithParam = segments.length > 1 && segments.at(-1)!.startsWith("{");
  const method = route.method.toUpperCase();
  if (rest.length === 0) {
    if (method === "GET") return `${resource}.${endsWithParam ? "get" : "list"}`;
    if (method === "POST") return `${resource}.create`;
    if (method === "PATCH") return `${resource}.update`;
    if (method === "PUT") return `${resource}.replace`;
    return `${resource}.delete`;
  }
  // POST /x/{id}/members/remove → remove-members, /x/{id}/certificates/approve → approve-certificates.
  if (rest.length === 2 && method === "POST") return `${resource}.${rest[1]}-${rest[0]}`;
  const name = rest.join("-");
  if (method === "GET") return `${resource}.${name}`;
  if (method === "PUT") return `${resource}.set-${name}`;
  if (method === "DELETE") return `${resource}.remove-${name}`;
  if (method === "PATCH") return `${resource}.update-${name}`;
  const alsoRead = all.some((r) => r.path === route.path && r.method.toUpperCase() === "GET");
  return `${resource}.${alsoRead ? `add-${name}` : name}`;
}
