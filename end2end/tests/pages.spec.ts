// Every page a user can meet, signed in and out, light and dark: no
// accessibility violation (axe-core), no horizontal scrolling on a 360 px
// phone, no layout shift when the app hydrates. The README's screenshots are
// taken here, so they show the app as it is.
import AxeBuilder from "@axe-core/playwright";
import { type Page } from "@playwright/test";
import { expect, test } from "../support/test";
import { mkdirSync } from "node:fs";
import { join } from "node:path";
import { APP_URL } from "../support/servers";
import { signInAtProvider } from "../support/provider";

const screenshots = join(__dirname, "../../docs/screenshots");

async function expectAccessible(page: Page, what: string) {
  const { violations } = await new AxeBuilder({ page }).analyze();
  const summary = violations.map((v) => `${v.id}: ${v.help} (${v.nodes.map((n) => n.target.join(" ")).join(", ")})`);
  expect(summary, `${what}: accessibility violations`).toEqual([]);
}

async function visit(page: Page, path: string, status: number) {
  const response = await page.goto(path);
  expect(response?.status(), `${path} status`).toBe(status);
}

async function login(page: Page, user: string) {
  await page.goto("/login");
  await signInAtProvider(page, user);
  await page.waitForURL(`${APP_URL}/`);
  await expect(page.getByRole("heading", { name: /^Welcome / })).toBeVisible();
}

for (const colorScheme of ["light", "dark"] as const) {
  test.describe(`${colorScheme} theme`, () => {
    test.use({ colorScheme, viewport: { width: 1200, height: 900 } });

    test("guest pages and error pages", async ({ page }) => {
      await visit(page, "/", 200);
      await expect(page.getByRole("heading", { name: "Welcome Guest" })).toBeVisible();
      await expectAccessible(page, "guest home");
      if (colorScheme === "light") {
        mkdirSync(screenshots, { recursive: true });
        await page.screenshot({ path: join(screenshots, "guest.png") });
      }
      await visit(page, "/security", 401);
      await expectAccessible(page, "security, signed out");
      await visit(page, "/admin", 401);
      await expectAccessible(page, "admin, signed out");
      await visit(page, "/sessions", 401);
      await expect(page.getByRole("heading", { name: "Your sessions" })).toBeVisible();
      await expectAccessible(page, "sessions, signed out");
      await visit(page, "/logout", 200);
      await expectAccessible(page, "logout, signed out");
      await visit(page, "/no-such-page", 404);
      await expect(page.getByRole("heading", { name: "Page not found" })).toBeVisible();
      await expectAccessible(page, "not found");
      // A callback that belongs to no sign-in: the sign-in problem page.
      await visit(page, "/callback?code=forged&state=forged", 400);
      await expect(page.getByRole("heading", { name: "This sign-in has expired" })).toBeVisible();
      await expectAccessible(page, "sign-in problem");
      if (colorScheme === "light") await page.screenshot({ path: join(screenshots, "error.png") });
    });

    test("signed-in pages", async ({ page }) => {
      await login(page, "ada");
      await expect(page.locator("body")).toHaveAttribute("data-hydrated", "true");
      await page.getByRole("button", { name: "Refresh now" }).click();
      await expect(page.getByTestId("api-result")).toContainText("ada@example.com");
      await expectAccessible(page, "signed-in home");
      await page.locator(".user-menu summary").click();
      await expect(page.getByRole("link", { name: "Security" })).toBeVisible();
      await expectAccessible(page, "signed-in home, menu open");
      if (colorScheme === "light") {
        await page.locator(".user-menu summary").click();
        await page.screenshot({ path: join(screenshots, "signed-in.png"), fullPage: true });
      }
      await visit(page, "/security", 200);
      await expectAccessible(page, "security");
      await visit(page, "/admin", 200);
      await expectAccessible(page, "admin");
      await visit(page, "/sessions", 200);
      await expect(page.locator(".session-list > li").first()).toContainText("This browser");
      await expectAccessible(page, "sessions");
      await visit(page, "/logout", 200);
      await expectAccessible(page, "logout");
    });

    test("the forbidden page", async ({ page }) => {
      await login(page, "grace");
      await visit(page, "/admin", 403);
      await expect(page.getByRole("heading", { name: "You do not have access to this page" })).toBeVisible();
      await expectAccessible(page, "admin, forbidden");
    });
  });
}

test.describe("on a 360 px phone", () => {
  test.use({ viewport: { width: 360, height: 740 } });

  test("nothing scrolls sideways, signed out or in", async ({ page }) => {
    const fits = () => page.evaluate(() => document.documentElement.scrollWidth <= window.innerWidth);
    await page.goto("/");
    expect(await fits(), "guest home fits").toBe(true);
    await login(page, "ada");
    await expect(page.locator("body")).toHaveAttribute("data-hydrated", "true");
    await page.getByRole("button", { name: "Refresh now" }).click();
    await expect(page.getByTestId("api-result")).toContainText("ada@example.com");
    expect(await fits(), "signed-in home fits").toBe(true);
    await page.locator(".user-menu summary").click();
    expect(await fits(), "open menu fits").toBe(true);
    await expectAccessible(page, "phone, signed in");
  });
});

// The API answers only when asked: a shift then follows the user's input,
// which does not count as layout shift.
test("the page does not move when the app hydrates", async ({ page }) => {
  await login(page, "ada");
  await page.reload();
  await expect(page.locator("body")).toHaveAttribute("data-hydrated", "true");
  const layoutShift = () =>
    page.evaluate(
      () =>
        new Promise<number>((resolve) => {
          let total = 0;
          const add = (entries: PerformanceEntryList) => {
            for (const entry of entries as unknown as { value: number; hadRecentInput: boolean }[]) {
              if (!entry.hadRecentInput) total += entry.value;
            }
          };
          const observer = new PerformanceObserver((list) => add(list.getEntries()));
          observer.observe({ type: "layout-shift", buffered: true });
          // The buffered entries arrive in a task of their own.
          setTimeout(() => {
            add(observer.takeRecords());
            observer.disconnect();
            resolve(total);
          }, 100);
        }),
    );
  expect(await layoutShift(), "cumulative layout shift").toBeLessThan(0.01);
  // The measurement sees a shift when there is one.
  await page.evaluate(() => {
    const block = document.createElement("div");
    block.style.height = "300px";
    document.querySelector("main")?.prepend(block);
  });
  await expect.poll(layoutShift).toBeGreaterThan(0.01);
});
