import { isValidElement, type ReactElement, type ReactNode } from "react";
import { describe, expect, it, vi } from "vitest";
import SignInPage from "./page";
import { SignInForm } from "./sign-in-form";

// The console's sign-in page hands the form the page to go to after signing in: its own origin
// only (lib/net/redirect), whatever ?callbackUrl= says. The browser-level proof is e2e/open-redirect.spec.ts.

vi.mock("@/lib/auth/session", () => ({ getConsoleSession: async () => null }));
vi.mock("@/lib/console-sso", () => ({ consoleSsoSettings: async () => ({ enabled: false, identityProvider: null, passwordSignIn: "everyone", mappings: [] }) }));
vi.mock("@/lib/sso/flow", () => ({ getTrace: async () => undefined }));

function formTarget(node: ReactNode): string | undefined {
  if (!isValidElement(node)) return undefined;
  const element = node as ReactElement<{ children?: ReactNode; callbackUrl?: string }>;
  if (element.type === SignInForm) return element.props.callbackUrl;
  for (const child of [element.props.children].flat()) {
    const found = formTarget(child);
    if (found !== undefined) return found;
  }
  return undefined;
}

const targetFor = async (callbackUrl: string | undefined) => formTarget(await SignInPage({ searchParams: Promise.resolve({ callbackUrl }) }));

describe("console sign-in page", () => {
  it("sends every off-site spelling of callbackUrl to /console", async () => {
    const spellings = ["/\\evil.example", "/\t/evil.example", "/%09/evil.example", "/%5Cevil.example", "//evil.example", "https:evil.example", "javascript:alert(document.domain)", "http://evil.example/"];
    const targets = await Promise.all(spellings.map(async (s) => [s, await targetFor(s)]));
    expect(targets).toEqual(spellings.map((s) => [s, "/console"]));
  });

  it("keeps a page of the console, with its query", async () => {
    expect(await targetFor("/console/prod/users?status=active")).toBe("/console/prod/users?status=active");
    expect(await targetFor(undefined)).toBe("/console");
  });
});
