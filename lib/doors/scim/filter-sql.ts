import { sql, type SQL } from "drizzle-orm";
import { FilterError, type AttrPath, type CompValue, type Filter } from "./filter";
import { ENTERPRISE_ATTRIBUTES, SCHEMA, USER_ATTRIBUTES, type AttrDef } from "./schema";
import { escapeLike } from "@/lib/domain/like";
import { dateTimeSchema } from "@/lib/validation";

// xsd:dateTime (RFC 7643 §2.3.5), or a bare date, as every door reads one (lib/validation).
const DATE_TIME = dateTimeSchema("not a date");

// A parsed filter turned into parameterised SQL over directory_users (alias du, users u) or
// directory groups (alias g, dg). Values always travel as parameters; attribute paths are resolved
// against the schema, so an unknown attribute is a 400 invalidFilter, never a SQL fragment.

type Scalar = { kind: "scalar"; expr: SQL; type: "string" | "boolean" | "dateTime"; caseExact: boolean };
type Multi = { kind: "multi"; array: SQL; def: AttrDef; sub: string | null };
type Resolved = Scalar | Multi;

export type Resolver = (path: AttrPath) => Resolved;

const jsonText = (base: SQL, ...keys: string[]): SQL => {
  let expr = base;
  keys.forEach((k, i) => {
    expr = i === keys.length - 1 ? sql`(${expr} ->> ${k})` : sql`(${expr} -> ${k})`;
  });
  return expr;
};

function compareScalar(target: Scalar, op: string, value: CompValue): SQL {
  const { expr } = target;
  if (op === "pr") return target.type === "string" ? sql`(${expr} is not null and ${expr} <> '')` : sql`${expr} is not null`;
  if (value === null) {
    if (op === "eq") return sql`${expr} is null`;
    if (op === "ne") return sql`${expr} is not null`;
    throw new FilterError(`"${op}" cannot compare with null.`);
  }
  if (target.type === "boolean") {
    if (typeof value !== "boolean") throw new FilterError(`A boolean attribute compares with true or false, not ${JSON.stringify(value)}.`);
    if (op === "eq") return sql`${expr} = ${value}`;
    if (op === "ne") return sql`${expr} is distinct from ${value}`;
    throw new FilterError(`"${op}" does not apply to a boolean attribute.`);
  }
  if (target.type === "dateTime") {
    const when = typeof value === "string" ? DATE_TIME.safeParse(value).data : undefined;
    if (!when) {
      throw new FilterError(`${JSON.stringify(value)} is not a date and time (xsd:dateTime, as 2026-12-06T10:00:00Z, from year 1 to 9999).`);
    }
    const ops: Record<string, string> = { eq: "=", ne: "<>", gt: ">", ge: ">=", lt: "<", le: "<=" };
    const symbol = ops[op];
    if (!symbol) throw new FilterError(`"${op}" does not apply to a date.`);
    return sql`${expr} ${sql.raw(symbol)} ${when.toISOString()}::timestamptz`;
  }
  const text = String(value);
  const left = target.caseExact ? expr : sql`lower(${expr})`;
  const right = target.caseExact ? text : text.toLowerCase();
  switch (op) {
    case "eq":
      return sql`${left} = ${right}`;
    case "ne":
      return sql`${left} is distinct from ${right}`;
    case "co":
      return sql`${left} like ${"%" + escapeLike(right) + "%"}`;
    case "sw":
      return sql`${left} like ${escapeLike(right) + "%"}`;
    case "ew":
      return sql`${left} like ${"%" + escapeLike(right)}`;
    case "gt":
      return sql`${left} > ${right}`;
    case "ge":
      return sql`${left} >= ${right}`;
    case "lt":
      return sql`${left} < ${right}`;
    case "le":
      return sql`${left} <= ${right}`;
  }
  throw new FilterError(`Unknown operator "${op}".`);
}

/** The element-level resolver inside emails[...] or emails.value: attributes of one array element. */
function elementResolver(multi: Multi, element: SQL): Resolver {
  return (path) => {
    if (path.schema || path.sub) throw new FilterError(`Inside ${multi.def.name}[…] name sub-attributes only (value, type, …).`);
    const sub = multi.def.subAttributes?.find((s) => s.name.toLowerCase() === path.attr);
    if (!sub) throw new FilterError(`${multi.def.name} has no sub-attribute "${path.attr}".`);
    return {
      kind: "scalar",
      expr: sub.type === "boolean" ? sql`((${element} ->> ${sub.name})::boolean)` : sql`(${element} ->> ${sub.name})`,
      type: sub.type === "boolean" ? "boolean" : "string",
      caseExact: sub.caseExact ?? false,
    };
  };
}

export function filterToSql(filter: Filter, resolve: Resolver): SQL {
  switch (filter.type) {
    case "and":
      return sql`(${filterToSql(filter.left, resolve)} and ${filterToSql(filter.right, resolve)})`;
    case "or":
      return sql`(${filterToSql(filter.left, resolve)} or ${filterToSql(filter.right, resolve)})`;
    case "not":
      return sql`(not coalesce(${filterToSql(filter.filter, resolve)}, false))`;
    case "present":
    case "compare": {
      const target = resolve(filter.path);
      const op = filter.type === "present" ? "pr" : filter.op;
      const value = filter.type === "present" ? null : filter.value;
      if (target.kind === "scalar") return compareScalar(target, op, value);
      // emails co "x" means: some element's value (or the named sub-attribute) matches.
      if (op === "pr" && !target.sub) return sql`(jsonb_typeof(${target.array}) = 'array' and jsonb_array_length(${target.array}) > 0)`;
      const element = sql.raw("elem");
      const inner = elementResolver(target, element)({ schema: null, attr: (target.sub ?? "value").toLowerCase(), sub: null });
      return sql`exists (select 1 from jsonb_array_elements(case when jsonb_typeof(${target.array}) = 'array' then ${target.array} else '[]'::jsonb end) as ${element} where ${compareScalar(inner as Scalar, op, value)})`;
    }
    case "valuePath": {
      const target = resolve(filter.path);
      if (target.kind !== "multi") throw new FilterError(`"${filter.path.attr}" is not a multi-valued attribute, so it takes no [filter].`);
      const element = sql.raw("elem");
      const inner = filterToSql(filter.filter, elementResolver(target, element));
      return sql`exists (select 1 from jsonb_array_elements(case when jsonb_typeof(${target.array}) = 'array' then ${target.array} else '[]'::jsonb end) as ${element} where ${inner})`;
    }
  }
}

/** Paths on a SCIM user, stored as directory_users (du) with the resource in du.resource. */
export function userResolver(columns: { userId: SQL; userName: SQL; externalId: SQL; active: SQL; createdAt: SQL; updatedAt: SQL; resource: SQL }): Resolver {
  return (path) => {
    const schema = path.schema;
    if (schema === SCHEMA.enterprise.toLowerCase()) {
      const def = ENTERPRISE_ATTRIBUTES.find((a) => a.name.toLowerCase() === path.attr);
      if (!def) throw new FilterError(`The enterprise extension has no attribute "${path.attr}".`);
      if (def.type === "complex") {
        const sub = def.subAttributes?.find((s) => s.name.toLowerCase() === (path.sub ?? "value"));
        if (!sub) throw new FilterError(`${def.name} has no sub-attribute "${path.sub}".`);
        return { kind: "scalar", expr: jsonText(columns.resource, SCHEMA.enterprise, def.name, sub.name), type: "string", caseExact: false };
      }
      return { kind: "scalar", expr: jsonText(columns.resource, SCHEMA.enterprise, def.name), type: "string", caseExact: false };
    }
    if (schema && schema !== SCHEMA.user.toLowerCase()) throw new FilterError(`Unknown schema "${path.schema}".`);
    switch (path.attr) {
      case "id":
        return { kind: "scalar", expr: sql`(${columns.userId})::text`, type: "string", caseExact: true };
      case "externalid":
        return { kind: "scalar", expr: columns.externalId, type: "string", caseExact: true };
      case "username":
        return { kind: "scalar", expr: columns.userName, type: "string", caseExact: false };
      case "active":
        return { kind: "scalar", expr: columns.active, type: "boolean", caseExact: false };
      case "meta":
        if (path.sub === "created") return { kind: "scalar", expr: columns.createdAt, type: "dateTime", caseExact: false };
        if (path.sub === "lastmodified") return { kind: "scalar", expr: columns.updatedAt, type: "dateTime", caseExact: false };
        throw new FilterError(`meta.${path.sub ?? ""} cannot be filtered on (meta.created and meta.lastModified can).`);
    }
    const def = USER_ATTRIBUTES.find((a) => a.name.toLowerCase() === path.attr);
    if (!def || def.mutability === "writeOnly") throw new FilterError(`Users have no attribute "${path.attr}" to filter on.`);
    if (def.name === "groups") throw new FilterError("Filter groups on /Groups (members[value eq \"…\"]).");
    if (def.multiValued) {
      if (path.sub && !def.subAttributes?.some((s) => s.name.toLowerCase() === path.sub)) throw new FilterError(`${def.name} has no sub-attribute "${path.sub}".`);
      return { kind: "multi", array: sql`(${columns.resource} -> ${def.name})`, def, sub: path.sub };
    }
    if (def.type === "complex") {
      const sub = def.subAttributes?.find((s) => s.name.toLowerCase() === path.sub);
      if (!sub) throw new FilterError(path.sub ? `${def.name} has no sub-attribute "${path.sub}".` : `Name a sub-attribute of ${def.name} (for example ${def.name}.${def.subAttributes?.[0]?.name}).`);
      return { kind: "scalar", expr: jsonText(columns.resource, def.name, sub.name), type: "string", caseExact: false };
    }
    if (path.sub) throw new FilterError(`${def.name} has no sub-attributes.`);
    return {
      kind: "scalar",
      expr: def.type === "boolean" ? sql`((${columns.resource} ->> ${def.name})::boolean)` : jsonText(columns.resource, def.name),
      type: def.type === "boolean" ? "boolean" : "string",
      caseExact: def.caseExact ?? false,
    };
  };
}
