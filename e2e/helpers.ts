import AxeBuilder from "@axe-core/playwright";
import { expect, type Page } from "@playwright/test";

export const baseUrl = () => process.env.E2E_BASE_URL!;
export const owner = () => ({ email: process.env.E2E_OWNER_EMAIL!, password: process.env.E2E_OWNER_PASSWORD! });

export async function signIn(page: Page, email: string, password: string) {
  await page.goto(`${baseUrl()}/sign-in`);
  await page.getByLabel("Email").fill(email);
  await page.getByLabel("Password").fill(password);
  await page.getByRole("button", { name: "Sign in" }).click();
}

export async function signInAsOwner(page: Page) {
  const { email, password } = owner();
  await signIn(page, email, password);
  await expect(page).toHaveURL(/\/console\/dev$/);
}

/** axe's serious and critical violations on the page as it is now: "rule: the elements", none when all is well. */
export async function seriousViolations(page: Page): Promise<string[]> {
  const found = (await new AxeBuilder({ page }).analyze()).violations.filter((v) => v.impact === "serious" || v.impact === "critical");
  return found.map((v) => `${v.id}: ${v.nodes.map((n) => n.target.join(" ")).join(", ")}`);
}
