// A SCIM client as an IdP would be: it sends, and on a lost answer (connection reset, 5xx) it
// retries; a create that turns out to have happened (409) is looked up by userName.

export type ScimTarget = { base: () => string; directoryId: string; token: string };

const USER = "urn:ietf:params:scim:schemas:core:2.0:User";
const GROUP = "urn:ietf:params:scim:schemas:core:2.0:Group";
const PATCH = "urn:ietf:params:scim:api:messages:2.0:PatchOp";

export async function scim(t: ScimTarget, method: string, path: string, body?: unknown): Promise<{ status: number; body: Record<string, unknown> | null }> {
  const response = await fetch(`${t.base()}/scim/v2/${t.directoryId}${path}`, {
    method,
    headers: { authorization: `Bearer ${t.token}`, "content-type": "application/scim+json" },
    body: body === undefined ? undefined : JSON.stringify(body),
    signal: AbortSignal.timeout(15_000),
  });
  const text = await response.text();
  return { status: response.status, body: text ? (JSON.parse(text) as Record<string, unknown>) : null };
}

export const userBody = (userName: string) => ({
  schemas: [USER],
  userName,
  name: { givenName: userName.split("@")[0], familyName: "Burst" },
  emails: [{ value: userName, primary: true }],
  active: true,
});

export const groupBody = (displayName: string) => ({ schemas: [GROUP], displayName });
export const addMember = (userId: string) => ({ schemas: [PATCH], Operations: [{ op: "add", path: "members", value: [{ value: userId }] }] });

/** Create (or find, after a 409) a user; returns its id, or throws with what the server said. */
export async function ensureUser(t: ScimTarget, userName: string): Promise<string> {
  const created = await scim(t, "POST", "/Users", userBody(userName));
  if (created.status === 201) return created.body!.id as string;
  if (created.status === 409) {
    const found = await scim(t, "GET", `/Users?filter=${encodeURIComponent(`userName eq "${userName}"`)}`);
    const resources = (found.body?.Resources as { id: string }[] | undefined) ?? [];
    if (resources.length === 1) return resources[0]!.id;
  }
  throw new Error(`create ${userName}: ${created.status} ${JSON.stringify(created.body)}`);
}

/** Retries `work` until it succeeds (the client's retry loop), up to `tries`. */
export async function withRetries<T>(work: () => Promise<T>, tries = 40, delayMs = 500): Promise<T> {
  let last: unknown;
  for (let i = 0; i < tries; i++) {
    try {
      return await work();
    } catch (error) {
      last = error;
      await new Promise((r) => setTimeout(r, delayMs));
    }
  }
  throw last;
}
