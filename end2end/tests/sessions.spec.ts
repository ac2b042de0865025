// "Your sessions": two browsers signed in as one user see each other; one
// signs the other out, in place; the other is told at its next step. The
// README's screenshot of the page is taken here.
import AxeBuilder from "@axe-core/playwright";
import { type Page } from "@playwright/test";
import { mkdirSync } from "node:fs";
import { join } from "node:path";
import { expect, test } from "../support/test";
import { APP_URL } from "../support/servers";
import { providerEvents, signInAtProvider } from "../support/provider";

const IPHONE =
  "Mozilla/5.0 (iPhone; CPU iPhone OS 18_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/18.1 Mobile/15E148 Safari/604.1";

async function login(page: Page, user: string) {
  await page.goto("/login");
  await signInAtProvider(page, user);
  await page.waitForURL(`${APP_URL}/`);
  await expect(page.locator("body")).toHaveAttribute("data-hydrated", "true");
}

async function expectAccessible(page: Page, what: string) {
  const { violations } = await new AxeBuilder({ page }).analyze();
  const summary = violations.map((v) => `${v.id}: ${v.help} (${v.nodes.map((n) => n.target.join(" ")).join(", ")})`);
  expect(summary, `${what}: accessibility violations`).toEqual([]);
}

test("two browsers of one user see each other, and one signs the other out", async ({ page, browser }) => {
  await page.setViewportSize({ width: 1200, height: 900 });
  const phoneContext = await browser.newContext({ userAgent: IPHONE, viewport: { width: 390, height: 844 } });
  const phone = await phoneContext.newPage();
  // A user of this test alone: the other tests' sessions stay off the list.
  const user = `traveller-${Date.now()}`;
  await login(page, user);
  await login(phone, user);

  // Through the user's menu, in the app: no new document.
  await page.evaluate(() => Object.assign(window, { __sameDocument: true }));
  await page.locator(".user-menu summary").click();
  await page.getByRole("link", { name: "Your sessions" }).click();
  await expect(page).toHaveURL(`${APP_URL}/sessions`);
  await expect(page.getByRole("heading", { level: 1 })).toHaveText("Your sessions");
  const sessions = page.locator(".session-list > li");
  await expect(sessions).toHaveCount(2);
  await expect(sessions.nth(0)).toContainText("Chrome on Linux");
  await expect(sessions.nth(0)).toContainText("This browser");
  await expect(sessions.nth(1)).toContainText("Safari on iPhone");
  await expect(sessions.nth(1)).not.toContainText("This browser");

  for (const colorScheme of ["dark", "light"] as const) {
    await page.emulateMedia({ colorScheme });
    await expectAccessible(page, `sessions, ${colorScheme}`);
  }
  mkdirSync(join(__dirname, "../../docs/screenshots"), { recursive: true });
  await page.screenshot({ path: join(__dirname, "../../docs/screenshots/sessions.png"), fullPage: true });

  const revocationsBefore = (await providerEvents()).filter((event) => event.type === "revocation.success").length;
  await page.getByRole("button", { name: "Sign out Safari on iPhone" }).click();
  await expect(sessions).toHaveCount(1);
  await expect(sessions.nth(0)).toContainText("This browser");
  await expect(page.getByRole("button", { name: "Sign out everywhere else" })).toHaveCount(0);
  expect(await page.evaluate(() => (window as unknown as { __sameDocument?: boolean }).__sameDocument)).toBe(true);
  const revocations = (await providerEvents()).filter((event) => event.type === "revocation.success").length;
  expect(revocations, "the phone's refresh token is revoked").toBe(revocationsBefore + 1);

  // The phone learns it at its next step in the app.
  await phone.locator(".user-menu summary").click();
  await phone.getByRole("link", { name: "Security" }).click();
  await expect(phone.getByRole("status").filter({ hasText: "Your session ended" })).toBeVisible();
  await expect(phone.getByRole("link", { name: "Login" }).first()).toBeVisible();

  // The laptop is still signed in.
  await page.reload();
  await expect(page.locator(".session-list > li")).toHaveCount(1);
  await phoneContext.close();
});
