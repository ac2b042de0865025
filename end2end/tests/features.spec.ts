// The Authgear features beyond "Welcome <name>": sign-up, language and theme,
// account settings, step-up, roles, and an API called through the server.
import { type Page } from "@playwright/test";
import { expect, test } from "../support/test";
import { APP_URL, PROVIDER_URL } from "../support/servers";
import { issuedTokens, providerEvents, signInAtProvider } from "../support/provider";

/** The next authorization request the browser sends to the provider. */
function nextAuthorization(page: Page): Promise<URL> {
  return page
    .waitForRequest((request) => request.url().startsWith(`${PROVIDER_URL}/auth?`))
    .then((request) => new URL(request.url()));
}

async function login(page: Page, user: string, minutesAgo = 0) {
  await page.goto("/");
  await page.getByRole("link", { name: "Login" }).click();
  await signInAtProvider(page, user, { minutesAgo });
  await page.waitForURL(`${APP_URL}/`);
  await expect(page.getByRole("heading", { level: 1 })).toHaveText(/^Welcome /);
}

async function openMenu(page: Page) {
  await page.locator(".user-menu summary").click();
}

const count = async (type: string) => (await providerEvents()).filter((event) => event.type === type).length;

test("Sign up opens the provider's sign-up page, then the new user is signed in", async ({ page }) => {
  const login = `new-${Date.now()}`;
  await page.goto("/");
  const authorization = nextAuthorization(page);
  await page.getByRole("link", { name: "Sign up" }).click();
  const url = await authorization;
  expect(url.searchParams.get("x_page")).toBe("signup");
  // Authgear does not implement prompt=create, and the local provider does
  // not list it either, so the app does not send it.
  expect(url.searchParams.get("prompt")).toBeNull();
  await expect(page.getByRole("heading", { name: "Create your account" })).toBeVisible();
  await signInAtProvider(page, login, { button: "Create account" });
  await page.waitForURL(`${APP_URL}/`);
  await expect(page.getByRole("heading", { name: `Welcome ${login}` })).toBeVisible();
  expect((await providerEvents()).some((event) => event.type === "signup" && event.login === login)).toBe(true);
});

test.describe("in French, in the dark", () => {
  test.use({ locale: "fr-CH", colorScheme: "dark" });

  test("the provider's pages get the browser's languages and colour scheme", async ({ page }) => {
    await page.goto("/");
    const authorization = nextAuthorization(page);
    await page.getByRole("link", { name: "Login" }).click();
    const url = await authorization;
    expect(url.searchParams.get("ui_locales")?.split(" ")[0]).toBe("fr-CH");
    expect(url.searchParams.get("x_color_scheme")).toBe("dark");
    await expect(page.getByTestId("color-scheme")).toHaveText("Theme: dark");
    await expect(page.getByTestId("ui-locales")).toContainText("fr-CH");
  });
});

test("a cancelled sign-in says so and offers a way back", async ({ page }) => {
  await page.goto("/");
  await page.getByRole("link", { name: "Login" }).click();
  await page.waitForURL(`${PROVIDER_URL}/interaction/**`);
  const callback = page.waitForResponse((response) => response.url().startsWith(`${APP_URL}/callback`));
  await page.getByRole("button", { name: "Cancel" }).click();
  expect((await callback).status()).toBe(400);
  await expect(page.getByRole("heading", { name: "Sign-in cancelled" })).toBeVisible();
  await page.getByRole("link", { name: "Try again" }).click();
  await page.waitForURL(`${PROVIDER_URL}/interaction/**`);
});

test("account settings at the provider, and the app catches up on return", async ({ page, context }) => {
  const user = `casey-${Date.now()}`;
  await login(page, user);
  await expect(page.getByRole("heading", { name: `Welcome ${user}` })).toBeVisible();
  await expect(page.locator("body")).toHaveAttribute("data-hydrated", "true");
  await openMenu(page);
  const opened = context.waitForEvent("page");
  await page.getByRole("link", { name: "Account settings" }).click();
  const settings = await opened;
  await settings.waitForURL(`${PROVIDER_URL}/settings`);
  await settings.getByLabel("Name").fill("Casey Jones");
  await settings.getByRole("button", { name: "Save" }).click();
  await expect(settings.getByLabel("Name")).toHaveValue("Casey Jones");
  await settings.close();
  // Back in the app's tab: it catches up as soon as the window has the focus
  // again. Headless Chromium keeps every page focused, so the test sends the
  // event a real tab switch would.
  await page.bringToFront();
  await page.evaluate(() => window.dispatchEvent(new FocusEvent("focus")));
  await expect(page.getByRole("heading", { name: "Welcome Casey Jones" })).toBeVisible();
  await page.reload();
  await expect(page.getByRole("heading", { name: "Welcome Casey Jones" })).toBeVisible();
});

test("Reload profile fetches the profile from the provider and shows it", async ({ page, context }) => {
  const user = `lin-${Date.now()}`;
  await login(page, user);
  await expect(page.locator("body")).toHaveAttribute("data-hydrated", "true");
  const settings = await context.newPage();
  await settings.goto(`${PROVIDER_URL}/settings`);
  await settings.getByLabel("Name").fill("Lin Reloaded");
  await settings.getByRole("button", { name: "Save" }).click();
  await expect(settings.getByLabel("Name")).toHaveValue("Lin Reloaded");
  await settings.close();
  // The app calls the server function (200 with JSON; a plain form post
  // would be sent back with a 302), then loads the page's data again: the
  // header and the page show the new name without a page load.
  const reload = page.waitForResponse((response) => response.url() === `${APP_URL}/api/reload_profile`);
  await page.getByRole("button", { name: "Reload profile" }).click();
  expect((await reload).status()).toBe(200);
  await expect(page.getByRole("heading", { name: "Welcome Lin Reloaded" })).toBeVisible();
});

test.describe("step-up on the Security page", () => {
  test("an old sign-in is sent through the provider again, for the same user", async ({ page }) => {
    await login(page, "ada", 60);
    await openMenu(page);
    const authorization = nextAuthorization(page);
    await page.getByRole("link", { name: "Security" }).click();
    const url = await authorization;
    expect(url.searchParams.get("prompt")).toBe("login");
    expect(url.searchParams.get("max_age")).toBe("300");
    expect(url.searchParams.get("id_token_hint")).toBeTruthy();
    await expect(page.getByRole("heading", { name: "Confirm it's you" })).toBeVisible();
    await signInAtProvider(page, "ada", { button: "Confirm" });
    await page.waitForURL(`${APP_URL}/security`);
    await expect(page.getByRole("heading", { name: "Security", exact: true })).toBeVisible();
    await expect(page.getByText("You confirmed it's you")).toBeVisible();
  });

  test("a recent sign-in opens the page at once", async ({ page }) => {
    await login(page, "ada");
    const before = await count("authorization.success");
    await page.goto("/security");
    await expect(page.getByText("You confirmed it's you")).toBeVisible();
    expect(await count("authorization.success")).toBe(before);
  });

  test("a user who cannot sign in again is told why, not looped", async ({ page }) => {
    await login(page, "anon", 60);
    const response = await page.goto("/security");
    expect(response?.status()).toBe(403);
    expect(page.url()).toBe(`${APP_URL}/security`);
    await expect(page.getByRole("alert")).toContainText("no password or other sign-in method");
  });
});

test.describe("the Admin page", () => {
  test("opens for the admin role", async ({ page }) => {
    await login(page, "ada");
    await expect(page.getByTestId("roles")).toHaveText("admin");
    await openMenu(page);
    await page.getByRole("link", { name: "Admin" }).click();
    await expect(page.getByRole("heading", { name: "Admin", exact: true })).toBeVisible();
    await expect(page.getByText("You have the admin role.")).toBeVisible();
  });

  test("is forbidden without it", async ({ page }) => {
    await login(page, "grace");
    await expect(page.getByTestId("roles")).toHaveText("None");
    await openMenu(page);
    await expect(page.getByRole("link", { name: "Security" })).toBeVisible();
    await expect(page.getByRole("link", { name: "Admin" })).toHaveCount(0);
    const response = await page.goto("/admin");
    expect(response?.status()).toBe(403);
    await expect(page.getByRole("heading", { name: "You do not have access to this page" })).toBeVisible();
  });

  test("asks guests to sign in", async ({ page }) => {
    const response = await page.goto("/admin");
    expect(response?.status()).toBe(401);
    await page.getByRole("main").getByRole("link", { name: "Login" }).click();
    await signInAtProvider(page, "ada");
    await page.waitForURL(`${APP_URL}/admin`);
    await expect(page.getByText("You have the admin role.")).toBeVisible();
  });
});

test("typed claims are shown next to the raw JSON", async ({ page }) => {
  await login(page, "grace");
  const profile = page.getByRole("region", { name: "Your profile" });
  await expect(profile).toContainText("grace@example.com");
  await expect(profile.locator(".badge")).toHaveText("unverified");
  await expect(profile).toContainText("Not verified");
  await expect(page.locator("#session-json")).toContainText("https://authgear.com/claims/user/roles");
});

test("an API called through the server: fresh result, live countdown, Refresh now", async ({ page }) => {
  const apiBodies: string[] = [];
  page.on("response", async (response) => {
    if (response.url().startsWith(`${APP_URL}/api/userinfo`)) apiBodies.push(await response.text());
  });
  await login(page, "ada");
  await expect(page.locator("body")).toHaveAttribute("data-hydrated", "true");
  const result = page.getByTestId("api-result");
  // A page view calls nothing: the clock starts from what the page says.
  const callsAtView = await count("userinfo.success");
  await page.reload();
  await expect(page.locator("body")).toHaveAttribute("data-hydrated", "true");
  await expect(result).toHaveText("Not called yet.");
  expect(await count("userinfo.success"), "no userinfo call for a page view").toBe(callsAtView);

  // The local provider's access tokens live 3 s here: the clock runs down.
  const countdown = page.getByTestId("countdown");
  await expect(countdown).toHaveText(/^0:0[0-3]$/);
  await expect(countdown).toHaveText("0:00");

  const refreshes = async () =>
    (await providerEvents()).filter((event) => event.type === "grant.success" && event.grant_type === "refresh_token")
      .length;
  const [refreshesBefore, callsBefore] = [await refreshes(), await count("userinfo.success")];
  await page.getByRole("button", { name: "Refresh now" }).click();
  await expect(result).toContainText('"email": "ada@example.com"');
  await expect(result).toContainText('"https://authgear.com/claims/user/roles"');
  await expect(countdown).toHaveText(/^0:0[1-3]$/);
  expect(await refreshes(), "the expired token was renewed before the call").toBeGreaterThan(refreshesBefore);
  expect(await count("userinfo.success")).toBeGreaterThan(callsBefore);

  const tokens = await issuedTokens();
  for (const body of apiBodies) for (const token of tokens) expect(body.includes(token)).toBe(false);
  expect(apiBodies.length).toBeGreaterThan(0);
});

test("the API refuses other origins and guests", async ({ page, context }) => {
  await login(page, "ada");
  const sameOrigin = await context.request.get("/api/userinfo", { headers: { "sec-fetch-site": "same-origin" } });
  expect(sameOrigin.status()).toBe(200);
  const crossSite = await context.request.get("/api/userinfo", {
    headers: { "sec-fetch-site": "cross-site", origin: "https://evil.example" },
  });
  expect(crossSite.status()).toBe(403);
  expect(await crossSite.text()).not.toContain("ada@example.com");
  // From a page of another origin, with the browser's own headers: the
  // server itself refuses it, whatever CORS would let the page read.
  await page.goto(`${PROVIDER_URL}/.well-known/openid-configuration`);
  const refused = page.waitForResponse((response) => response.url() === `${APP_URL}/api/userinfo`);
  await page.evaluate(async (url) => {
    await fetch(url, { mode: "no-cors", credentials: "include" });
  }, `${APP_URL}/api/userinfo`);
  expect((await refused).status()).toBe(403);

  await context.clearCookies();
  const guest = await context.request.get("/api/userinfo", { headers: { "sec-fetch-site": "same-origin" } });
  expect(guest.status()).toBe(401);
});
