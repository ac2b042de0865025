// A single-page app: the first page comes whole from the server and is
// hydrated; every page after it is shown by the router in the browser, with
// its data from one server function. No new document, no second start of
// the wasm; Back and Forward work; the title and the focus follow the page;
// the server still decides who may see what, and a session ended elsewhere
// shows at the next step.
import AxeBuilder from "@axe-core/playwright";
import { type Page } from "@playwright/test";
import { expect, test } from "../support/test";
import { APP_URL } from "../support/servers";
import { signedWebhook, signInAtProvider } from "../support/provider";

const TITLE = "Authgear + Leptos";

/** Every request for a new document in the tab, from now on. */
function pageLoads(page: Page): string[] {
  const loads: string[] = [];
  page.on("request", (request) => {
    if (request.resourceType() === "document" && request.frame() === page.mainFrame()) loads.push(request.url());
  });
  return loads;
}

/** Loads `path` as a person typing it would, and waits until the app runs. */
async function open(page: Page, path: string) {
  await page.goto(path);
  await expect(page.locator("body")).toHaveAttribute("data-hydrated", "true");
  // Survives only as long as this document does.
  await page.evaluate(() => Object.assign(window, { __sameDocument: true }));
}

async function expectSameDocument(page: Page, loads: string[]) {
  expect(loads, "no page load").toEqual([]);
  expect(await page.evaluate(() => (window as unknown as { __sameDocument?: boolean }).__sameDocument)).toBe(true);
}

/**
 * Follows a link to `path` that the page itself does not show (the app has
 * none to a page that does not exist, nor to Admin for a user without the
 * role): the app's router takes every same-origin link, as it would one on
 * another of the app's pages.
 */
async function follow(page: Page, path: string) {
  await page.evaluate((path) => {
    const link = document.createElement("a");
    link.href = path;
    link.textContent = "a link";
    document.body.append(link);
    link.click();
    link.remove();
  }, path);
}

/** The page shown now: its address, its heading, its title, and the focus on the heading. */
async function expectPage(page: Page, path: string, heading: string | RegExp, title: string) {
  await expect(page).toHaveURL(`${APP_URL}${path}`);
  const h1 = page.getByRole("heading", { level: 1 });
  await expect(h1).toHaveText(heading);
  await expect(page).toHaveTitle(`${title} · ${TITLE}`);
}

async function expectFocusOnHeading(page: Page) {
  await expect(page.getByRole("heading", { level: 1 })).toBeFocused();
}

async function openMenu(page: Page) {
  await page.locator(".user-menu summary").click();
}

async function signIn(page: Page, login: string, { minutesAgo = 0 } = {}) {
  await page.goto("/login");
  await signInAtProvider(page, login, { minutesAgo });
  await page.waitForURL(`${APP_URL}/`);
  await expect(page.getByRole("heading", { level: 1 })).toHaveText(/^Welcome /);
}

test("a guest moves between every page in the browser, Back and Forward included", async ({ page }) => {
  await open(page, "/");
  const loads = pageLoads(page);
  await expectPage(page, "/", "Welcome Guest", "Home");

  await follow(page, "/security");
  await expectPage(page, "/security", "Security", "Security");
  await expect(page.getByText("Please sign in to see your security settings.")).toBeVisible();
  await expectFocusOnHeading(page);

  await follow(page, "/admin");
  await expectPage(page, "/admin", "Admin", "Admin");
  await expect(page.getByText("Please sign in to see this page.")).toBeVisible();
  await expectFocusOnHeading(page);

  await follow(page, "/logout");
  await expectPage(page, "/logout", "You are signed out", "Sign out");

  await follow(page, "/no-such-page");
  await expectPage(page, "/no-such-page", "Page not found", "Page not found");
  await expectFocusOnHeading(page);
  // The header's guest actions leave the app: plain links, not the router's.
  await expect(page.getByRole("banner").getByRole("link", { name: "Login" })).toHaveAttribute("rel", "external");

  await page.getByRole("link", { name: TITLE }).click();
  await expectPage(page, "/", "Welcome Guest", "Home");
  await expectFocusOnHeading(page);

  await page.goBack();
  await expectPage(page, "/no-such-page", "Page not found", "Page not found");
  await page.goBack();
  await expectPage(page, "/logout", "You are signed out", "Sign out");
  await page.goForward();
  await expectPage(page, "/no-such-page", "Page not found", "Page not found");
  await page.goForward();
  await expectPage(page, "/", "Welcome Guest", "Home");
  await expectSameDocument(page, loads);
});

test("signed in, every page opens in the browser, each decided by the server", async ({ page }) => {
  await signIn(page, "ada");
  await open(page, "/");
  const loads = pageLoads(page);
  const calls: string[] = [];
  page.on("request", (request) => {
    if (request.url().startsWith(`${APP_URL}/api/`)) calls.push(new URL(request.url()).pathname);
  });
  await expectPage(page, "/", "Welcome Ada Lovelace", "Home");
  expect(calls, "the first page's data came with it").toEqual([]);

  await openMenu(page);
  await page.getByRole("link", { name: "Security" }).click();
  await expectPage(page, "/security", "Security", "Security");
  await expect(page.getByText("You confirmed it's you")).toBeVisible();
  await expectFocusOnHeading(page);
  // The menu closes as it would on a page load.
  await expect(page.locator(".user-menu details")).not.toHaveAttribute("open");

  await openMenu(page);
  await page.getByRole("link", { name: "Admin" }).click();
  await expectPage(page, "/admin", "Admin", "Admin");
  await expect(page.getByText("You have the admin role.")).toBeVisible();

  await follow(page, "/logout");
  await expectPage(page, "/logout", "Sign out", "Sign out");
  await page.getByRole("link", { name: "Stay signed in" }).click();
  await expectPage(page, "/", "Welcome Ada Lovelace", "Home");
  await expect(page.getByRole("region", { name: "Your profile" })).toContainText("ada@example.com");
  await expectFocusOnHeading(page);

  await page.goBack();
  await expectPage(page, "/logout", "Sign out", "Sign out");
  await page.goBack();
  await expectPage(page, "/admin", "Admin", "Admin");
  await page.goForward();
  await expectPage(page, "/logout", "Sign out", "Sign out");
  await expectSameDocument(page, loads);
  // One call per page shown, each to the page's own server function.
  expect(calls).toEqual([
    "/api/security",
    "/api/admin",
    "/api/viewer",
    "/api/home",
    "/api/viewer",
    "/api/admin",
    "/api/viewer",
  ]);
});

test("the server refuses Admin to a user without the role, also in the browser", async ({ page }) => {
  await signIn(page, "grace");
  await open(page, "/");
  const loads = pageLoads(page);
  const admin = page.waitForResponse(`${APP_URL}/api/admin`);
  await follow(page, "/admin");
  expect((await admin).status()).toBe(403);
  await expectPage(page, "/admin", "You do not have access to this page", "Admin");
  await expectSameDocument(page, loads);
});

test("a guest following a link to Admin is asked to sign in and comes back to it", async ({ page }) => {
  await open(page, "/");
  await follow(page, "/admin");
  await expectPage(page, "/admin", "Admin", "Admin");
  await page.getByRole("main").getByRole("link", { name: "Login" }).click();
  await signInAtProvider(page, "ada");
  await page.waitForURL(`${APP_URL}/admin`);
  await expect(page.getByText("You have the admin role.")).toBeVisible();
});

test("a session ended by an Authgear event shows at the next step, without a page load", async ({ page }) => {
  const login = `kim-${Date.now()}`;
  await signIn(page, login);
  await open(page, "/");
  const loads = pageLoads(page);
  expect(await signedWebhook("user.disabled", login)).toBe(200);

  await openMenu(page);
  await page.getByRole("link", { name: "Security" }).click();
  await expectPage(page, "/security", "Security", "Security");
  await expect(page.getByRole("status").filter({ hasText: "Your session ended. Please sign in again." })).toBeVisible();
  await expect(page.getByRole("banner").getByRole("link", { name: "Login" })).toBeVisible();
  await expect(page.locator(".user-menu")).toHaveCount(0);
  await expectSameDocument(page, loads);
});

test("an API call that finds the session ended says so at once", async ({ page }) => {
  const login = `lee-${Date.now()}`;
  await signIn(page, login);
  await open(page, "/");
  const loads = pageLoads(page);
  expect(await signedWebhook("user.disabled", login)).toBe(200);

  await page.getByRole("button", { name: "Refresh now" }).click();
  await expect(page.getByText("Your session ended. Please sign in again.").first()).toBeVisible();
  await expect(page.getByRole("heading", { level: 1 })).toHaveText("Welcome Guest");
  await expect(page.getByRole("main").getByRole("link", { name: "Login" })).toBeVisible();
  await expectSameDocument(page, loads);
});

test.describe("in New York, in English", () => {
  test.use({ locale: "en-US", timezoneId: "America/New_York" });

  test("times are shown in the browser's zone and language, after a UTC first render", async ({ page }) => {
    await signIn(page, "ada");
    const server = await (await page.request.get("/")).text();
    expect(server, "the server writes UTC").toMatch(/Your session ends <time datetime="[0-9T:-]+Z">\d{4}-\d\d-\d\d \d\d:\d\d UTC(<!>)?<\/time>/);

    await open(page, "/");
    const end = page.locator("main p.muted time").first();
    await expect(end).toHaveAttribute("datetime", /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/);
    await expect(end).toHaveText(/^[A-Z][a-z]{2} \d{1,2}, \d{4}, \d{1,2}:\d\d [AP]M \(in 7 days\)$/);
    // The same instant, in New York's time.
    const datetime = (await end.getAttribute("datetime"))!;
    const local = new Date(datetime).toLocaleString("en-US", { timeZone: "America/New_York", hour: "numeric", minute: "2-digit" });
    await expect(end).toContainText(local);
  });
});

for (const colorScheme of ["light", "dark"] as const) {
  test.describe(`${colorScheme} theme`, () => {
    test.use({ colorScheme });

    test("every page reached in the browser passes axe", async ({ page }) => {
      const expectAccessible = async (what: string) => {
        const { violations } = await new AxeBuilder({ page }).analyze();
        expect(violations.map((v) => `${v.id}: ${v.help}`), what).toEqual([]);
      };
      await open(page, "/");
      for (const [path, heading] of [
        ["/security", "Security"],
        ["/admin", "Admin"],
        ["/logout", "You are signed out"],
        ["/no-such-page", "Page not found"],
        ["/", "Welcome Guest"],
      ]) {
        await follow(page, path);
        await expect(page.getByRole("heading", { level: 1 })).toHaveText(heading);
        await expectAccessible(`guest ${path}`);
      }

      await signIn(page, "ada");
      await open(page, "/");
      for (const [path, heading] of [
        ["/security", "Security"],
        ["/admin", "Admin"],
        ["/logout", "Sign out"],
        ["/no-such-page", "Page not found"],
        ["/", "Welcome Ada Lovelace"],
      ]) {
        await follow(page, path);
        await expect(page.getByRole("heading", { level: 1 })).toHaveText(heading);
        await expectAccessible(`signed in ${path}`);
      }
    });
  });
}
