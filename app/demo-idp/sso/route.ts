import { demoIdp, demoPeople, demoResponse, isConsoleRequest, readAuthnRequest, type DemoPerson } from "@/lib/sso/testing/demo-idp";
import { emailSchema } from "@/lib/validation";

// The demo IdP's single sign-on endpoint (demo mode only: 404 unless `npm start`'s demo seed created
// it). GET: the AuthnRequest arrives by the redirect binding and the visitor picks who to be. POST:
// the signed response, posted by the browser to the ACS (a form; a script with the page's nonce
// submits it at once). Plain HTML: this stands in for another company's login page.

const esc = (s: string) => s.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;").replace(/"/g, "&quot;");

function page(title: string, body: string, status = 200, nonce?: string, script?: string): Response {
  const html = `<!doctype html><html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1"><title>${esc(title)}</title>
<style>body{font-family:system-ui,sans-serif;background:#f8fafc;color:#0f172a;margin:0}main{max-width:34rem;margin:2rem auto;background:#fff;border:1px solid #e2e8f0;border-radius:.5rem;padding:1.5rem}
.banner{background:#fef3c7;color:#78350f;border:1px solid #fcd34d;border-radius:.375rem;padding:.75rem;font-size:.875rem}h1{font-size:1.25rem}ul{list-style:none;padding:0}li{margin:.25rem 0}
button{font:inherit;cursor:pointer;border:1px solid #cbd5e1;background:#fff;border-radius:.375rem;padding:.4rem .7rem;text-align:left;width:100%}button:hover{background:#f1f5f9}.small{color:#475569;font-size:.8rem}
input{font:inherit;border:1px solid #cbd5e1;border-radius:.375rem;padding:.4rem;width:100%;box-sizing:border-box}label{display:block;margin:.5rem 0 .25rem;font-size:.875rem}fieldset{border:0;padding:0}</style></head>
<body><main><p class="banner" role="note"><strong>Demo IdP.</strong> Built into this demo so single sign-on works with no other service; it lets anyone sign in as anyone. It exists only in the demo's data folder; connect your real IdP for anything else.</p>${body}</main>${script ? `<script nonce="${esc(nonce ?? "")}">${script}</script>` : ""}</body></html>`;
  return new Response(html, { status, headers: { "content-type": "text/html; charset=utf-8", "cache-control": "no-store" } });
}

export async function GET(request: Request) {
  const idp = await demoIdp();
  if (!idp) return new Response("Not found.", { status: 404 });
  const url = new URL(request.url);
  const authn = readAuthnRequest(url.searchParams.get("SAMLRequest"), url.searchParams.get("RelayState"));
  if ("problem" in authn) return page("Demo IdP", `<h1>Demo IdP</h1><p role="alert">${esc(authn.problem)}</p>`, 400);
  const [{ environments, people, groups }, toConsole] = await Promise.all([demoPeople(idp.identityProviderId), isConsoleRequest(authn.relayState)]);
  const target = toConsole ? "the console" : environments.join(", ") || "the demo";
  const hidden = `<input type="hidden" name="SAMLRequest" value="${esc(url.searchParams.get("SAMLRequest")!)}">${authn.relayState ? `<input type="hidden" name="RelayState" value="${esc(authn.relayState)}">` : ""}`;
  const list = people
    .map(
      (p) =>
        `<li><form method="post">${hidden}<input type="hidden" name="email" value="${esc(p.email)}"><button type="submit">Sign in as ${esc(p.name)} <span class="small">${esc(p.email)}${p.groups.length ? ` · ${esc(p.groups.join(", "))}` : ""}</span></button></form></li>`,
    )
    .join("");
  const groupBoxes = groups.map((g) => `<label><input type="checkbox" name="groups" value="${esc(g)}" style="width:auto"> ${esc(g)}</label>`).join("");
  return page(
    "Demo IdP: sign in",
    `<h1>Sign in to ${esc(target)} as…</h1>
<p class="small">The response carries the person's email, name and groups (as a real IdP's would), signed with the demo IdP's key.${toConsole ? " The console's group mappings decide the console role (Security, owners)." : ""}</p>
<ul aria-label="Demo users">${list}</ul>
<form method="post"><fieldset><legend><strong>…or someone new</strong> (created just in time)</legend>${hidden}
<label for="email">Email</label><input id="email" name="email" type="email" required>
<label for="name">Name</label><input id="name" name="name">${groupBoxes ? `<p class="small">Groups the IdP asserts:</p>${groupBoxes}` : ""}
<p><button type="submit">Sign in as this person</button></p></fieldset></form>`,
  );
}

export async function POST(request: Request) {
  const idp = await demoIdp();
  if (!idp) return new Response("Not found.", { status: 404 });
  const form = await request.formData().catch(() => new FormData());
  const text = (name: string) => (typeof form.get(name) === "string" ? String(form.get(name)).trim().slice(0, 4096) : "");
  const authn = readAuthnRequest(text("SAMLRequest") || null, text("RelayState") || null);
  if ("problem" in authn) return page("Demo IdP", `<h1>Demo IdP</h1><p role="alert">${esc(authn.problem)}</p>`, 400);
  const email = emailSchema.safeParse(text("email"));
  if (!email.success) return page("Demo IdP", `<h1>Demo IdP</h1><p role="alert">Enter a valid email address.</p>`, 400);
  const [known] = (await demoPeople(idp.identityProviderId, { email: email.data, limit: 1 })).people;
  const person: DemoPerson = known ?? {
    email: email.data,
    name: text("name") || email.data.split("@")[0]!,
    groups: form.getAll("groups").filter((g): g is string => typeof g === "string").map((g) => g.slice(0, 200)),
  };
  // The page's CSP nonce (proxy.ts puts it on the request), for the script that submits the form.
  const nonce = request.headers.get("x-nonce") ?? undefined;
  const body = `<h1>Signing you in as ${esc(person.name)}…</h1>
<form id="saml" method="post" action="${esc(authn.acsUrl)}"><input type="hidden" name="SAMLResponse" value="${esc(demoResponse(idp.key, authn, person))}">${authn.relayState ? `<input type="hidden" name="RelayState" value="${esc(authn.relayState)}">` : ""}
<button type="submit">Continue</button></form>`;
  return page("Demo IdP: signing in", body, 200, nonce, 'document.getElementById("saml").submit();');
}
