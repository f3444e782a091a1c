import { jsonStrings } from "@/lib/doors/http/json-strings";
// SCIM 2.0 resource schemas (RFC 7643) as data: the attributes of User (core and enterprise
// extension) and Group with their types and characteristics. One definition serves three jobs:
// normalising what a client sends (attribute names are case-insensitive, "True" is true, unknown
// and read-only attributes are dropped), answering /Schemas, and resolving filter paths.

export const SCHEMA = {
  user: "urn:ietf:params:scim:schemas:core:2.0:User",
  enterprise: "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User",
  group: "urn:ietf:params:scim:schemas:core:2.0:Group",
  listResponse: "urn:ietf:params:scim:api:messages:2.0:ListResponse",
  patchOp: "urn:ietf:params:scim:api:messages:2.0:PatchOp",
  error: "urn:ietf:params:scim:api:messages:2.0:Error",
  serviceProviderConfig: "urn:ietf:params:scim:schemas:core:2.0:ServiceProviderConfig",
  resourceType: "urn:ietf:params:scim:schemas:core:2.0:ResourceType",
  schema: "urn:ietf:params:scim:schemas:core:2.0:Schema",
} as const;

export type AttrType = "string" | "boolean" | "dateTime" | "reference" | "complex" | "integer" | "decimal" | "binary";

export type AttrDef = {
  name: string;
  type: AttrType;
  multiValued?: boolean;
  required?: boolean;
  caseExact?: boolean;
  mutability?: "readOnly" | "readWrite" | "immutable" | "writeOnly";
  returned?: "always" | "never" | "default" | "request";
  uniqueness?: "none" | "server" | "global";
  description: string;
  subAttributes?: AttrDef[];
  referenceTypes?: string[];
};

const str = (name: string, description: string, extra: Partial<AttrDef> = {}): AttrDef => ({ name, type: "string", description, ...extra });
const typed = (kinds: string): AttrDef[] => [
  str("value", "The value."),
  str("display", "A human-readable name."),
  str("type", `A label: ${kinds}.`),
  { name: "primary", type: "boolean", description: "Whether this is the primary value." },
];

export const USER_ATTRIBUTES: AttrDef[] = [
  str("userName", "Unique identifier for the User, used to sign in; unique per directory, case-insensitively.", { required: true, uniqueness: "server" }),
  {
    name: "name",
    type: "complex",
    description: "The components of the user's real name.",
    subAttributes: [
      str("formatted", "The full name, formatted for display."),
      str("familyName", "The family name."),
      str("givenName", "The given name."),
      str("middleName", "The middle name(s)."),
      str("honorificPrefix", "Honorific prefix(es)."),
      str("honorificSuffix", "Honorific suffix(es)."),
    ],
  },
  str("displayName", "The name displayed to end users."),
  str("nickName", "The casual way to address the user."),
  { name: "profileUrl", type: "reference", referenceTypes: ["external"], description: "A URI of the user's online profile." },
  str("title", "The user's title."),
  str("userType", "The relationship between the organisation and the user."),
  str("preferredLanguage", "The preferred written or spoken language."),
  str("locale", "The default location for localisation."),
  str("timezone", "The user's time zone (IANA)."),
  { name: "active", type: "boolean", description: "Whether the user may sign in; false deprovisions them from this directory's environment." },
  { name: "password", type: "string", mutability: "writeOnly", returned: "never", description: "Not stored: users sign in with SSO or their own password." },
  { name: "emails", type: "complex", multiValued: true, description: "Email addresses.", subAttributes: typed("work, home, other") },
  { name: "phoneNumbers", type: "complex", multiValued: true, description: "Phone numbers.", subAttributes: typed("work, home, mobile, fax, pager, other") },
  { name: "ims", type: "complex", multiValued: true, description: "Instant messaging addresses.", subAttributes: typed("aim, gtalk, icq, xmpp, msn, skype, qq, yahoo") },
  { name: "photos", type: "complex", multiValued: true, description: "URLs of photos.", subAttributes: typed("photo, thumbnail") },
  {
    name: "addresses",
    type: "complex",
    multiValued: true,
    description: "Physical mailing addresses.",
    subAttributes: [
      str("formatted", "The full mailing address."),
      str("streetAddress", "The street address."),
      str("locality", "The city or locality."),
      str("region", "The state or region."),
      str("postalCode", "The postal code."),
      str("country", "The country."),
      str("type", "A label: work, home, other."),
      { name: "primary", type: "boolean", description: "Whether this is the primary address." },
    ],
  },
  {
    name: "groups",
    type: "complex",
    multiValued: true,
    mutability: "readOnly",
    description: "The groups of this directory the user belongs to (read-only: change memberships on the group).",
    subAttributes: [str("value", "The group's id."), { name: "$ref", type: "reference", description: "The group's URI." }, str("display", "The group's name."), str("type", "direct")],
  },
  { name: "entitlements", type: "complex", multiValued: true, description: "Entitlements.", subAttributes: typed("any") },
  { name: "roles", type: "complex", multiValued: true, description: "Roles.", subAttributes: typed("any") },
  { name: "x509Certificates", type: "complex", multiValued: true, description: "Certificates.", subAttributes: typed("any") },
];

export const ENTERPRISE_ATTRIBUTES: AttrDef[] = [
  str("employeeNumber", "A numeric or alphanumeric identifier assigned by the organisation."),
  str("costCenter", "The cost center."),
  str("organization", "The organisation."),
  str("division", "The division."),
  str("department", "The department."),
  {
    name: "manager",
    type: "complex",
    description: "The user's manager.",
    subAttributes: [str("value", "The manager's id."), { name: "$ref", type: "reference", description: "The manager's URI." }, str("displayName", "The manager's name.")],
  },
];

export const GROUP_ATTRIBUTES: AttrDef[] = [
  str("displayName", "The group's name; unique per environment, case-insensitively.", { required: true }),
  {
    name: "members",
    type: "complex",
    multiValued: true,
    description: "The users in the group.",
    subAttributes: [str("value", "The user's id.", { mutability: "immutable" }), { name: "$ref", type: "reference", description: "The user's URI." }, str("display", "The user's name."), str("type", "User")],
  },
];

/** The attributes every resource has, outside any schema's attribute list. */
export const COMMON_ATTRIBUTES = ["id", "externalid", "meta", "schemas"] as const;

/** The longest string a client may send in a value (userName and a group's displayName have their own, shorter caps); checked on what arrives (lib/doors/scim/handler.ts), not on what is stored. */
export const MAX_STRING = 4096;

/** Where the first string longer than MAX_STRING is in a JSON document ("emails[0].display"), or null. */
export function overlongString(document: unknown): string | null {
  for (const [path, text] of jsonStrings(document)) if (text.length > MAX_STRING) return path || "The body";
  return null;
}

export class ScimValueError extends Error {
  readonly scimType = "invalidValue";
}

const find = (defs: readonly AttrDef[], key: string) => defs.find((d) => d.name.toLowerCase() === key.toLowerCase());

function coerce(def: AttrDef, value: unknown, where: string): unknown {
  if (value === null || value === undefined) return undefined;
  switch (def.type) {
    case "boolean":
      if (typeof value === "boolean") return value;
      // Entra sends "True" and "False".
      if (typeof value === "string" && /^(true|false)$/i.test(value)) return value.toLowerCase() === "true";
      throw new ScimValueError(`${where} must be a boolean.`);
    case "complex": {
      // Entra sends the manager (and other references) as a bare id: read it as { value }.
      if (typeof value === "string" && def.subAttributes?.some((s) => s.name === "value")) value = { value };
      if (typeof value !== "object" || Array.isArray(value)) throw new ScimValueError(`${where} must be an object.`);
      const out: Record<string, unknown> = {};
      for (const [k, v] of Object.entries(value as Record<string, unknown>)) {
        const sub = find(def.subAttributes ?? [], k);
        if (!sub || sub.mutability === "readOnly") continue;
        const coerced = coerce(sub, v, `${where}.${sub.name}`);
        if (coerced !== undefined) out[sub.name] = coerced;
      }
      return Object.keys(out).length ? out : undefined;
    }
    case "integer":
    case "decimal":
      if (typeof value === "number") return value;
      throw new ScimValueError(`${where} must be a number.`);
    default:
      if (typeof value === "string") return value;
      if (typeof value === "number" || typeof value === "boolean") return String(value);
      throw new ScimValueError(`${where} must be a string.`);
  }
}

/** One attribute's value, normalised (multi-valued attributes become arrays). */
export function coerceAttribute(def: AttrDef, value: unknown, where = def.name): unknown {
  if (def.multiValued) {
    if (value === null || value === undefined) return undefined;
    const items = (Array.isArray(value) ? value : [value]).map((v, i) => coerce({ ...def, multiValued: false }, v, `${where}[${i}]`)).filter((v) => v !== undefined);
    return items.length ? items : undefined;
  }
  return coerce(def, value, where);
}

/**
 * What a client sent, reduced to the attributes we know with their canonical names and types.
 * Read-only attributes (id, meta, groups) and unknown ones are dropped, as RFC 7644 §3.5.1 allows.
 */
export function normaliseResource(kind: "user" | "group", body: Record<string, unknown>): Record<string, unknown> {
  const defs = kind === "user" ? USER_ATTRIBUTES : GROUP_ATTRIBUTES;
  const out: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(body)) {
    if (kind === "user" && key.toLowerCase() === SCHEMA.enterprise.toLowerCase()) {
      if (value && typeof value === "object" && !Array.isArray(value)) {
        const ext: Record<string, unknown> = {};
        for (const [k, v] of Object.entries(value as Record<string, unknown>)) {
          const def = find(ENTERPRISE_ATTRIBUTES, k);
          if (!def) continue;
          const coerced = coerceAttribute(def, v, `${SCHEMA.enterprise}:${def.name}`);
          if (coerced !== undefined) ext[def.name] = coerced;
        }
        if (Object.keys(ext).length) out[SCHEMA.enterprise] = ext;
      }
      continue;
    }
    if (key.toLowerCase() === "externalid") {
      if (value !== null && value !== undefined) out.externalId = coerce(str("externalId", ""), value, "externalId");
      continue;
    }
    const def = find(defs, key);
    if (!def || def.mutability === "readOnly" || def.mutability === "writeOnly") continue;
    const coerced = coerceAttribute(def, value);
    if (coerced !== undefined) out[def.name] = coerced;
  }
  return out;
}

export function schemaDocument(id: string, name: string, description: string, attributes: AttrDef[], location: string) {
  const full = (a: AttrDef): Record<string, unknown> => ({
    name: a.name,
    type: a.type,
    multiValued: a.multiValued ?? false,
    description: a.description,
    required: a.required ?? false,
    caseExact: a.caseExact ?? false,
    mutability: a.mutability ?? "readWrite",
    returned: a.returned ?? "default",
    uniqueness: a.uniqueness ?? "none",
    ...(a.referenceTypes ? { referenceTypes: a.referenceTypes } : {}),
    ...(a.subAttributes ? { subAttributes: a.subAttributes.map(full) } : {}),
  });
  return { schemas: [SCHEMA.schema], id, name, description, attributes: attributes.map(full), meta: { resourceType: "Schema", location } };
}
