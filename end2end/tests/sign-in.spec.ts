import { type BrowserContext, type Page } from "@playwright/test";
import { expect, test } from "../support/test";
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import {
  ACCESS_TOKEN_TTL_SECONDS,
  appLog,
  builtSiteRoot,
  CLIENT_SECRET,
  PROVIDER_URL,
  restartApp,
} from "../support/servers";
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

function builtSiteFiles(dir = builtSiteRoot): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) =>
    entry.isDirectory() ? builtSiteFiles(join(dir, entry.name)) : [join(dir, entry.name)],
  );
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

  // The login transaction cookie, while the browser is at the provider:
  // one per sign-in in progress, named after its state.
  await page.goto("/");
  const authorize = page.waitForRequest((request) => request.url().startsWith(`${PROVIDER_URL}/auth?`));
  await page.getByRole("link", { name: "Login" }).click();
  const state = new URL((await authorize).url()).searchParams.get("state");
  await page.waitForURL(`${PROVIDER_URL}/**`);
  const [transaction, ...others] = await context.cookies("http://localhost:3000/");
  expect(others, "no session before sign-in").toEqual([]);
  expect(transaction).toMatchObject({
    name: `login-${state}`,
    httpOnly: true,
    sameSite: "Lax",
    path: "/",
    secure: false,
  });
  expect(transaction.expires - Date.now() / 1000).toBeLessThanOrEqual(600);
  await signInAtProvider(page, "ada");
  await page.waitForURL("http://localhost:3000/");
  await expect(page.getByRole("heading", { name: "Welcome Ada Lovelace" })).toBeVisible();

  const json = page.locator("#session-json");
  await expect(json).toContainText('"email": "ada@example.com"');
  await expect(json).toContainText('"has_refresh_token": true');

  // Every cookie the app has set: just the session one, opaque, HttpOnly, SameSite=Strict.
  // The login transaction cookie is gone after the callback.
  const appCookies = await context.cookies("http://localhost:3000/");
  expect(appCookies.map((c) => c.name)).toEqual(["session"]);
  expect(appCookies[0]).toMatchObject({ httpOnly: true, sameSite: "Strict", path: "/", secure: false });
  expect(appCookies[0].value).toMatch(/^[A-Za-z0-9_-]{22}$/);

  // Hydration is real: the toggle only works once the wasm has run.
  await expect(page.locator("body")).toHaveAttribute("data-hydrated", "true");
  await page.getByRole("button", { name: "Hide details" }).click();
  await expect(json).toBeHidden();
  await page.getByRole("button", { name: "Show details" }).click();
  await expect(json).toBeVisible();

  // A reload is made from the same session read: the profile card and the
  // session view are copies of the first rendering, hydrated all the same.
  await page.reload();
  await expect(page.getByRole("heading", { name: "Welcome Ada Lovelace" })).toBeVisible();
  await expect(page.locator("body")).toHaveAttribute("data-hydrated", "true");
  await page.getByRole("button", { name: "Hide details" }).click();
  await expect(json).toBeHidden();

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
  // With a matching id_token_hint the provider signs out without asking, as Authgear does.
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

test("signing in again ends the previous session", async ({ page, context, browser }) => {
  await login(page);
  const first = await sessionCookies(context);
  expect(first).toHaveLength(1);

  // Typed into the address bar: the browser sends the Strict session cookie.
  // The provider remembers the person, so it sends them straight back.
  await page.goto("/login");
  await page.waitForURL("http://localhost:3000/");
  await expect(page.getByRole("heading", { name: "Welcome Ada Lovelace" })).toBeVisible();
  const second = await sessionCookies(context);
  expect(second[0].value).not.toEqual(first[0].value);

  const replay = await browser.newContext({ baseURL: "http://localhost:3000" });
  await replay.addCookies(first);
  const old = await replay.newPage();
  await old.goto("/");
  await expect(old.getByRole("heading", { name: "Welcome Guest" })).toBeVisible();
  await replay.close();
});

test("an expiring access token is refreshed on the server, out of the browser's sight", async ({ page }) => {
  const bodies = recordResponses(page);
  await login(page);
  const refreshes = async () =>
    (await providerEvents()).filter(
      (event) => event.type === "grant.success" && (event as { grant_type?: string }).grant_type === "refresh_token",
    ).length;
  const before = await refreshes();
  // The local provider's access tokens live PROVIDER_ACCESS_TOKEN_TTL seconds
  // in these tests; wait until the one just issued is due for renewal.
  await page.waitForTimeout(ACCESS_TOKEN_TTL_SECONDS * 1000);
  await page.reload();
  await expect(page.getByRole("heading", { name: "Welcome Ada Lovelace" })).toBeVisible();
  await expect.poll(refreshes).toBeGreaterThan(before);
  await expectNoTokens([await page.content(), ...bodies, appLog()]);
});

test("the built site holds no client secret", async () => {
  const files = builtSiteFiles();
  expect(files.some((file) => file.endsWith(".wasm")), "the wasm was built").toBe(true);
  expect(files.some((file) => file.endsWith(".js")), "the JS glue was built").toBe(true);
  for (const file of files) {
    const content = readFileSync(file);
    expect(content.includes(CLIENT_SECRET), `${file} holds the client secret`).toBe(false);
    expect(content.includes("AUTHGEAR_CLIENT_SECRET"), `${file} names the secret's variable`).toBe(false);
  }
  // The same search finds what is there: it is not blind. The wasm holds
  // the whole app (it hydrates every page) and none of the server's own
  // code: the sign-in flow's messages, the hop page.
  const wasm = readFileSync(files.find((file) => file.endsWith(".wasm"))!);
  expect(wasm.includes("Refresh now")).toBe(true);
  expect(wasm.includes("Welcome Guest")).toBe(true);
  expect(wasm.includes("Signing you in")).toBe(false);
  expect(wasm.includes("callback state does not match")).toBe(false);
});

test("ending the session at the provider ends it in the app (back-channel logout)", async ({ page }) => {
  await login(page);
  // Signed out at the provider itself, not through the app.
  await page.goto(`${PROVIDER_URL}/session/end`);
  await confirmSignOutAtProvider(page);
  await expect.poll(async () => (await providerEvents()).map((event) => event.type)).toContain("backchannel.success");
  await page.goto("/");
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
    // Times stay as the server wrote them: in UTC.
    await expect(page.getByText(/^Your session ends \d{4}-\d\d-\d\d \d\d:\d\d UTC unless/)).toBeVisible();

    // The negative control for hydration: nothing runs, so the toggle does nothing.
    await expect(page.locator("body")).not.toHaveAttribute("data-hydrated", "true");
    await page.getByRole("button", { name: "Hide details" }).click();
    await expect(page.locator("#session-json")).toBeVisible();

    await page.getByRole("button", { name: "Logout" }).click();
    // Without JavaScript the provider's page cannot send itself: one click.
    await confirmSignOutAtProvider(page);
    await page.waitForURL("http://localhost:3000/");
    await expect(page.getByRole("heading", { name: "Welcome Guest" })).toBeVisible();
  });
});
