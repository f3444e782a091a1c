import { deflateSync } from "node:zlib";
import { desc, eq } from "drizzle-orm";
import { beforeAll, describe, expect, it } from "vitest";
import { getDb } from "@/db/client";
import { auditEvents, emailOutbox, type Environment } from "@/db/schema";
import { GET as logoRoute } from "@/app/e/[env]/branding/logo/route";
import { requestPasswordReset } from "@/lib/end-user/password-accounts";
import { createUser } from "@/lib/users";
import { countRows, createEnvironments, realMemberCtx, systemCtx } from "@/test-support/fixtures";
import { brandingOf, contrastRatio, DEFAULT_BRANDING, setBrandingLogo, updateBranding } from ".";
import { checkLogo, sanitizeSvg } from "./logo";

// Branded end-user pages: colours checked against WCAG AA, logos that are PNG or sanitised SVG,
// scoped and audited changes, the logo served safely, mails that use the name.

let env: { dev: Environment; test: Environment; prod: Environment };
beforeAll(async () => {
  env = await createEnvironments();
});

/** A 1×1 PNG. */
function png(): Buffer {
  const chunk = (type: string, data: Buffer) => {
    const body = Buffer.concat([Buffer.from(type), data]);
    const len = Buffer.alloc(4);
    len.writeUInt32BE(data.length);
    return Buffer.concat([len, body, Buffer.alloc(4)]);
  };
  const header = Buffer.alloc(13);
  header.writeUInt32BE(1, 0);
  header.writeUInt32BE(1, 4);
  header[8] = 8;
  header[9] = 2;
  return Buffer.concat([Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]), chunk("IHDR", header), chunk("IDAT", deflateSync(Buffer.from([0, 255, 0, 0]))), chunk("IEND", Buffer.alloc(0))]);
}

const valid = { displayName: "Acme Automation", primaryColor: "#1f57cc", backgroundColor: "#f8fafc", message: "Welcome to Acme.", supportUrl: "https://help.acme.example" };

describe("colours", () => {
  it("measures WCAG contrast", () => {
    expect(contrastRatio("#000000", "#ffffff")).toBe(21);
    expect(contrastRatio("#ffffff", "#ffffff")).toBe(1);
    expect(contrastRatio("#1f57cc", "#ffffff")).toBeGreaterThan(4.5);
  });
});

describe("logos", () => {
  it("keeps a PNG, rebuilds an SVG from what is allowed, and refuses anything else with the reason", () => {
    expect(checkLogo(png())).toMatchObject({ ok: true, type: "image/png" });
    const svg = sanitizeSvg(
      `<svg xmlns="http://www.w3.org/2000/svg" xmlns:xlink="http://www.w3.org/1999/xlink" viewBox="0 0 10 10" onload="alert(1)"><script>alert(2)</script><rect width="10" height="10" fill="#123456" onclick="x()"/><foreignObject><div>hi</div></foreignObject><use xlink:href="https://evil.example/x.svg#a"/><use href="#r"/><circle r="2" style="fill:url(https://evil.example/t)" fill="url(https://evil.example/p)"/></svg>`,
    )!;
    expect(svg).toContain('<rect width="10" height="10" fill="#123456"/>');
    expect(svg).toContain('<use href="#r"/>');
    for (const gone of ["script", "alert", "onload", "onclick", "foreignObject", "evil.example", "style="]) expect([gone, svg.includes(gone)]).toEqual([gone, false]);
    expect(checkLogo(Buffer.from("GIF89a not a logo we take"))).toEqual({ ok: false, reason: "The logo must be a PNG or an SVG image; this file is neither." });
    const unreadable = { ok: false, reason: "This SVG could not be read as an SVG image (it must be well-formed, with no DOCTYPE, its elements nested at most 64 deep)." };
    expect(checkLogo(Buffer.from("<svg><unclosed></svg>"))).toEqual(unreadable);
    // Nested past any logo (under 100 KB, well-formed): refused with the reason, not a stack overflow.
    const nest = (n: number) => Buffer.from(`<svg xmlns="http://www.w3.org/2000/svg">${"<g>".repeat(n)}${"</g>".repeat(n)}</svg>`);
    expect(checkLogo(nest(14_000))).toEqual(unreadable);
    expect(checkLogo(nest(64))).toMatchObject({ ok: true, type: "image/svg+xml" });
    expect(checkLogo(nest(65))).toEqual(unreadable);
    expect(checkLogo(Buffer.from('<?xml version="1.0"?><!DOCTYPE svg [<!ENTITY x "y">]><svg xmlns="http://www.w3.org/2000/svg"/>'))).toMatchObject({ ok: false });
    expect(checkLogo(Buffer.alloc(101 * 1024, 1))).toEqual({ ok: false, reason: "The logo is larger than 100 KB." });
  });
});

describe("saving branding", () => {
  it("refuses colours below WCAG AA, a bad support link and long text, with the reason; writes nothing", async () => {
    const before = await countRows("environment_branding");
    const refused = await updateBranding(systemCtx, env.dev.id, { ...valid, primaryColor: "#8ab4f8", backgroundColor: "#333333", supportUrl: "http://help.example", displayName: "x".repeat(61) }).catch((e) => e.fieldErrors);
    expect(refused).toEqual({
      primaryColor: [`White text on this colour has a contrast of ${contrastRatio("#8ab4f8", "#ffffff")}:1; WCAG AA needs 4.5:1. Choose a darker colour.`],
      backgroundColor: [`The page's text on this colour has a contrast of ${contrastRatio("#333333", "#0f172a")}:1; WCAG AA needs 4.5:1. Choose a lighter colour.`],
      supportUrl: ["Enter an https:// address or a mailto: link."],
      displayName: ["At most 60 characters."],
    });
    expect((await updateBranding(systemCtx, env.dev.id, { ...valid, primaryColor: "blue" }).catch((e) => e.fieldErrors)).primaryColor).toEqual(["Enter a colour as #rrggbb."]);
    expect((await updateBranding(systemCtx, env.dev.id, { ...valid, displayName: "Acme\r\nBcc: x@evil.example" }).catch((e) => e.fieldErrors)).displayName).toEqual(["One line, without control characters."]);
    expect(await countRows("environment_branding")).toBe(before);
    expect(await brandingOf(env.dev.id)).toEqual(DEFAULT_BRANDING);
  });

  it("saves, audits, and is scoped like the environment's sign-in settings", async () => {
    const devAdmin = await realMemberCtx("environment_admin", [env.dev.id]);
    await expect(updateBranding(devAdmin, env.prod.id, valid)).rejects.toThrow("This change touches an environment outside your scope.");
    await expect(setBrandingLogo(devAdmin, env.prod.id, png())).rejects.toThrow("This change touches an environment outside your scope.");
    const saved = await updateBranding(devAdmin, env.dev.id, valid);
    expect(saved).toMatchObject({ displayName: "Acme Automation", message: "Welcome to Acme.", supportUrl: "https://help.acme.example", logo: null });
    const [audit] = await getDb().select().from(auditEvents).where(eq(auditEvents.action, "environment.branding_update")).orderBy(desc(auditEvents.occurredAt)).limit(1);
    expect(audit).toMatchObject({ actorId: devAdmin.actor.id, targetId: env.dev.id, after: expect.objectContaining({ displayName: "Acme Automation" }) });
  });

  it("a logo that is not an image is refused with the reason; a PNG is served with its type, nosniff and a sandbox", async () => {
    await expect(setBrandingLogo(systemCtx, env.test.id, Buffer.from("not an image")).catch((e) => e.fieldErrors)).resolves.toEqual({ logo: ["The logo must be a PNG or an SVG image; this file is neither."] });
    expect((await brandingOf(env.test.id)).logo).toBeNull();
    const missing = await logoRoute(new Request("http://localhost/e/test/branding/logo"), { params: Promise.resolve({ env: "test" }) });
    expect([missing.status, await missing.text()]).toEqual([404, "No logo."]);
    const saved = await setBrandingLogo(systemCtx, env.test.id, png());
    expect(saved.logo).toEqual({ type: "image/png", version: 1 });
    const served = await logoRoute(new Request("http://localhost/e/test/branding/logo?v=1"), { params: Promise.resolve({ env: "test" }) });
    expect([served.status, served.headers.get("content-type"), served.headers.get("x-content-type-options"), served.headers.get("content-security-policy"), served.headers.get("cache-control")]).toEqual([
      200,
      "image/png",
      "nosniff",
      "default-src 'none'; style-src 'unsafe-inline'; sandbox",
      "public, max-age=31536000, immutable",
    ]);
    expect(Buffer.from(await served.arrayBuffer()).equals(png())).toBe(true);
    expect((await setBrandingLogo(systemCtx, env.test.id, null)).logo).toBeNull();
  });

  it("mails name the environment by its display name and close with the support link", async () => {
    await updateBranding(systemCtx, env.prod.id, { ...valid, displayName: "Acme Cloud", supportUrl: "mailto:help@acme.example" });
    await createUser(systemCtx, { name: "Rae", email: "rae.brand@example.com", environmentIds: [env.prod.id] });
    await requestPasswordReset("prod", "rae.brand@example.com");
    const [mail] = await getDb().select().from(emailOutbox).where(eq(emailOutbox.to, "rae.brand@example.com")).orderBy(desc(emailOutbox.createdAt)).limit(1);
    expect(mail?.subject).toBe("Reset your Acme Cloud (PROD) password");
    expect(mail?.body).toContain("Need help? help@acme.example");
  });
});
