import "server-only";
import { eq, sql } from "drizzle-orm";
import { z } from "zod";
import { getDb, type Executor } from "@/db/client";
import { environmentBranding, environments } from "@/db/schema";
import type { DomainContext } from "@/lib/auth/actor";
import { recordAudit } from "@/lib/audit/record";
import { inTransaction } from "@/lib/domain/transaction";
import { requireEnvironment } from "@/lib/environments";
import { ValidationError } from "@/lib/errors";
import { authorize } from "@/lib/permissions";
import { parseInput } from "@/lib/validation";
import { checkLogo } from "./logo";

// An environment's branded end-user pages (sign-in, home, consent) and mails: a display name, a
// logo, colours, a message and a support link. Colours are checked against WCAG AA when saved, so
// no admin can make the sign-in unreadable. The one writer of `environment_branding`; changes are
// audited and scoped like the environment's sign-in settings.

export const DEFAULT_PRODUCT_NAME = "Automation platform";
/** Text on the page background, and on buttons (white). */
const PAGE_TEXT = "#0f172a";
const BUTTON_TEXT = "#ffffff";
const AA = 4.5;

export type Branding = {
  displayName: string;
  primaryColor: string;
  backgroundColor: string;
  message: string;
  supportUrl: string | null;
  logo: { type: string; version: number } | null;
};

export const DEFAULT_BRANDING: Branding = { displayName: "", primaryColor: "#1f57cc", backgroundColor: "#f8fafc", message: "", supportUrl: null, logo: null };

/** WCAG 2 contrast ratio of two #rrggbb colours (1 to 21). */
export function contrastRatio(a: string, b: string): number {
  const luminance = (hex: string) => {
    const [r, g, bl] = [1, 3, 5].map((i) => parseInt(hex.slice(i, i + 2), 16) / 255).map((c) => (c <= 0.03928 ? c / 12.92 : ((c + 0.055) / 1.055) ** 2.4));
    return 0.2126 * r! + 0.7152 * g! + 0.0722 * bl!;
  };
  const [hi, lo] = [luminance(a), luminance(b)].sort((x, y) => y - x);
  return Math.round(((hi! + 0.05) / (lo! + 0.05)) * 100) / 100;
}

const color = z
  .string({ error: "Enter a colour as #rrggbb." })
  .trim()
  .toLowerCase()
  .regex(/^#[0-9a-f]{6}$/, "Enter a colour as #rrggbb.");

export const brandingInput = z
  .object({
    // One line (it goes into mail subjects too): no line breaks or control characters.
    displayName: z.string().trim().max(60, "At most 60 characters.").regex(/^[^\u0000-\u001f\u007f]*$/, "One line, without control characters.").default(""),
    primaryColor: color,
    backgroundColor: color,
    message: z.string().trim().max(500, "At most 500 characters.").default(""),
    supportUrl: z
      .string()
      .trim()
      .max(500)
      .nullable()
      .optional()
      .transform((v) => v || null)
      .refine((v) => !v || /^(https:\/\/[^\s]+|mailto:[^\s@]+@[^\s@]+)$/i.test(v), "Enter an https:// address or a mailto: link."),
  })
  .superRefine((v, ctx) => {
    const onButton = contrastRatio(v.primaryColor, BUTTON_TEXT);
    if (onButton < AA) ctx.addIssue({ code: "custom", path: ["primaryColor"], message: `White text on this colour has a contrast of ${onButton}:1; WCAG AA needs ${AA}:1. Choose a darker colour.` });
    const onPage = contrastRatio(v.backgroundColor, PAGE_TEXT);
    if (onPage < AA) ctx.addIssue({ code: "custom", path: ["backgroundColor"], message: `The page's text on this colour has a contrast of ${onPage}:1; WCAG AA needs ${AA}:1. Choose a lighter colour.` });
  });

/** An environment's branding (the defaults when it has none). */
export async function brandingOf(environmentId: string, executor: Executor = getDb()): Promise<Branding> {
  const [row] = await executor
    .select({
      displayName: environmentBranding.displayName,
      primaryColor: environmentBranding.primaryColor,
      backgroundColor: environmentBranding.backgroundColor,
      message: environmentBranding.message,
      supportUrl: environmentBranding.supportUrl,
      logoType: environmentBranding.logoType,
      logoVersion: environmentBranding.logoVersion,
    })
    .from(environmentBranding)
    .where(eq(environmentBranding.environmentId, environmentId));
  if (!row) return DEFAULT_BRANDING;
  const { logoType, logoVersion, ...rest } = row;
  return { ...rest, logo: logoType ? { type: logoType, version: logoVersion } : null };
}

/** The name end users see: the display name, else the product's. */
export const productName = (b: Pick<Branding, "displayName">) => b.displayName || DEFAULT_PRODUCT_NAME;

/** The logo's bytes and type, for the logo route. */
export async function brandingLogo(environmentKey: string): Promise<{ bytes: Buffer; type: string; version: number } | null> {
  const [row] = await getDb()
    .select({ bytes: environmentBranding.logo, type: environmentBranding.logoType, version: environmentBranding.logoVersion })
    .from(environmentBranding)
    .innerJoin(environments, eq(environments.id, environmentBranding.environmentId))
    .where(eq(environments.key, environmentKey));
  return row?.bytes && row.type ? { bytes: row.bytes, type: row.type, version: row.version } : null;
}

function describe(b: Branding) {
  return { ...b, logo: b.logo ? `${b.logo.type} (version ${b.logo.version})` : null };
}

/** Saves the name, colours (WCAG AA checked), message and support link. Audited. */
export async function updateBranding(ctx: DomainContext, environmentId: string, input: unknown): Promise<Branding> {
  const data = parseInput(brandingInput, input);
  authorize(ctx.actor, "environment_auth", "write", [environmentId]);
  return inTransaction(async (tx) => {
    const env = await requireEnvironment(tx, environmentId);
    const before = await brandingOf(env.id, tx);
    await tx
      .insert(environmentBranding)
      .values({ environmentId: env.id, ...data })
      .onConflictDoUpdate({ target: environmentBranding.environmentId, set: { ...data, updatedAt: sql`now()` } });
    const after = await brandingOf(env.id, tx);
    await recordAudit(tx, ctx, { action: "environment.branding_update", targetType: "environment", targetId: env.id, targetLabel: env.name, environment: env, before: describe(before), after: describe(after) });
    return after;
  });
}

/** Sets the logo from an upload (a PNG, or an SVG as sanitised), or removes it (null). Audited. */
export async function setBrandingLogo(ctx: DomainContext, environmentId: string, upload: Buffer | null): Promise<Branding> {
  authorize(ctx.actor, "environment_auth", "write", [environmentId]);
  const checked = upload ? checkLogo(upload) : null;
  if (checked && !checked.ok) throw ValidationError.field("logo", checked.reason);
  return inTransaction(async (tx) => {
    const env = await requireEnvironment(tx, environmentId);
    const before = await brandingOf(env.id, tx);
    const logo = checked?.ok ? { logo: checked.bytes, logoType: checked.type } : { logo: null, logoType: null };
    await tx
      .insert(environmentBranding)
      .values({ environmentId: env.id, ...logo, logoVersion: 1 })
      .onConflictDoUpdate({ target: environmentBranding.environmentId, set: { ...logo, logoVersion: sql`${environmentBranding.logoVersion} + 1`, updatedAt: sql`now()` } });
    const after = await brandingOf(env.id, tx);
    await recordAudit(tx, ctx, {
      action: "environment.branding_logo",
      targetType: "environment",
      targetId: env.id,
      targetLabel: env.name,
      environment: env,
      before: { logo: describe(before).logo },
      after: { logo: describe(after).logo, bytes: checked?.ok ? checked.bytes.length : 0 },
    });
    return after;
  });
}

/** How the environment's mails name it (its display name, with the environment), and their closing line (the support link). */
export async function mailBranding(environment: { id: string; name: string }, executor: Executor = getDb()): Promise<{ title: string; footer: string }> {
  const b = await brandingOf(environment.id, executor);
  return {
    title: b.displayName ? `${b.displayName} (${environment.name})` : environment.name,
    footer: b.supportUrl ? `\nNeed help? ${b.supportUrl.replace(/^mailto:/i, "")}\n` : "",
  };
}
