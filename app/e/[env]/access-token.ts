/** Fetches an access token for `audience` with the session cookie (same origin). */
export async function fetchAccessToken(envKey: string, audience: string): Promise<{ token: string } | { error: string }> {
  const res = await fetch(`/e/${envKey}/token`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ audience }) });
  const body = (await res.json()) as { access_token?: string; detail?: string };
  return body.access_token ? { token: body.access_token } : { error: body.detail ?? `The token request failed (${res.status}).` };
}
