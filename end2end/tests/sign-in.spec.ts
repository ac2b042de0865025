import { expect, test, type BrowserContext, type Page } from "@playwright/test";
import { appLog, PROVIDER_URL, restartApp } from "../support/servers";
import { signInAtProvider, confirmSignOutAtProvider, issuedTokens, providerEvents } from "../support/provider";

// Everything the page loads from the app, to search for tokens afterwards.
function recordResponses(page: Page): string[] {
  const bodies: string[] = [];
  page.on("response", async (response) => {
    if (!response.url().startsWith("http://localhost:3000")) return;
    const type = response.headers()["content-type"] ?? "";
    if (!/html|json|javascript|text/.test(type)) return;
    try {
      bodies.push(`${response.url()}\n${JSON.stringify(response.headers())}\n${await response.text()}`);
    } catch {
      // redirects have no body
    }
  });
  return bodies;
}

async function expectNoTokens(texts: string[]) {
  const tokens = await issuedTokens();
  expect(tokens.length, "the provider reports the tokens it issued").toBeGreaterThan(0);
  for (const text of texts) {
    for (const token of tokens) {
      expect(text.includes(token), `a token reached the browser:\n${text.slice(0, 300)}`).toBe(false);
    }
  }
}

async function login(page: Page) {
  await page.goto("/");
  await expect(page.getByRole("heading", { name: "Welcome Guest" })).toBeVisible();
  await page.getByRole("link", { name: "Login" }).click();
  await signInAtProvider(page, "ada");
  await page.waitForURL("http://localhost:3000/");
  await expect(page.getByRole("heading", { name: "Welcome Ada Lovelace" })).toBeVisible();
}

async function sessionCookies(context: BrowserContext) {
  return (await context.cookies("http://localhost:3000")).filter((c) => c.name === "session");
}

test("a guest sees the welcome page, the login link and the local provider banner", async ({ page }) => {
  await page.goto("/");
  await expect(page.getByRole("heading", { name: "Welcome Guest" })).toBeVisible();
  await expect(page.getByRole("link", { name: "Login" })).toHaveAttribute("href", "/login");
  await expect(page.getByText("local development provider")).toBeVisible();
  await expect(page.locator("#session-json")).toHaveCount(0);
});

test("sign in, see the session, stay signed in across reloads and restarts, sign out", async ({ page, context }) => {
  const bodies = recordResponses(page);
  const cspViolations: string[] = [];
  page.on("console", (message) => {
    if (/Content.Security.Policy/i.test(message.text())) cspViolations.push(message.text());
  });

  // The login transaction cookie, while the browser is at the provider.
  await page.goto("/");
  await page.getByRole("link", { name: "Login" }).click();
  await page.waitForURL(`${PROVIDER_URL}/**`);
  const [transaction] = await context.cookies("http://localhost:3000/callback");
  expect(transaction).toMatchObject({
    name: "login",
    httpOnly: true,
    sameSite: "Lax",
    path: "/callback",
    secure: false,
  });
  expect(transaction.expires - Date.now() / 1000).toBeLessThanOrEqual(600);
  expect(await context.cookies("http://localhost:3000/"), "no session before sign-in").toEqual([]);
  await signInAtProvider(page, "ada");
  await page.waitForURL("http://localhost:3000/");
  await expect(page.getByRole("heading", { name: "Welcome Ada Lovelace" })).toBeVisible();

  const json = page.locator("#session-json");
  await expect(json).toContainText('"email": "ada@example.com"');
  await expect(json).toContainText('"has_refresh_token": true');

  // Every cookie the app has set: just the session one, opaque, HttpOnly, SameSite=Strict.
  const appCookies = await context.cookies(["http://localhost:3000/", "http://localhost:3000/callback"]);
  expect(appCookies.map((c) => c.name)).toEqual(["session"]);
  expect(appCookies[0]).toMatchObject({ httpOnly: true, sameSite: "Strict", path: "/", secure: false });
  expect(appCookies[0].value).toMatch(/^[A-Za-z0-9_-]{22}$/);
  const loginCookie = (await context.cookies("http://localhost:3000/callback")).find((c) => c.name === "login");
  expect(loginCookie, "the login transaction cookie is gone after the callback").toBeUndefined();

  // Hydration is real: the toggle only works once the wasm has run.
  await expect(page.locator("body")).toHaveAttribute("data-hydrated", "true");
  await page.getByRole("button", { name: "Hide details" }).click();
  await expect(json).toBeHidden();
  await page.getByRole("button", { name: "Show details" }).click();
  await expect(json).toBeVisible();

  await page.reload();
  await expect(page.getByRole("heading", { name: "Welcome Ada Lovelace" })).toBeVisible();

  await restartApp();
  await page.reload();
  await expect(page.getByRole("heading", { name: "Welcome Ada Lovelace" })).toBeVisible();

  await expectNoTokens([await page.content(), ...bodies, appLog()]);
  expect(cspViolations, "the page works under its Content-Security-Policy").toEqual([]);

  const oldCookies = await sessionCookies(context);
  const endSession = page.waitForRequest((request) => request.url().startsWith(`${PROVIDER_URL}/session/end`));
  await page.getByRole("button", { name: "Logout" }).click();
  const endSessionUrl = new URL((await endSession).url());
  expect(endSessionUrl.searchParams.get("id_token_hint")).toBeTruthy();
  expect(endSessionUrl.searchParams.get("post_logout_redirect_uri")).toBe("http://localhost:3000/");
  await confirmSignOutAtProvider(page);
  await page.waitForURL("http://localhost:3000/");
  await expect(page.getByRole("heading", { name: "Welcome Guest" })).toBeVisible();
  const events = (await providerEvents()).map((event) => event.type);
  expect(events).toContain("revocation.success");
  expect(events).toContain("end_session.success");

  // The old cookie is worth nothing now.
  await context.addCookies(oldCookies);
  await page.reload();
  await expect(page.getByRole("heading", { name: "Welcome Guest" })).toBeVisible();
});

test("a GET of /logout shows a button and does not sign out", async ({ page }) => {
  await login(page);
  await page.goto("/logout");
  await expect(page.getByRole("heading", { name: "Sign out" })).toBeVisible();
  await page.goto("/");
  await expect(page.getByRole("heading", { name: "Welcome Ada Lovelace" })).toBeVisible();
});

test.describe("without JavaScript", () => {
  test.use({ javaScriptEnabled: false });

  test("sign in and sign out work with plain links and forms", async ({ page }) => {
    await login(page);
    await expect(page.locator("#session-json")).toContainText('"email": "ada@example.com"');

    // The negative control for hydration: nothing runs, so the toggle does nothing.
    await expect(page.locator("body")).not.toHaveAttribute("data-hydrated", "true");
    await page.getByRole("button", { name: "Hide details" }).click();
    await expect(page.locator("#session-json")).toBeVisible();

    await page.getByRole("button", { name: "Logout" }).click();
    await confirmSignOutAtProvider(page);
    await page.waitForURL("http://localhost:3000/");
    await expect(page.getByRole("heading", { name: "Welcome Guest" })).toBeVisible();
  });
});
