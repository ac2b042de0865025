// What a person does on the local provider's own pages.
import { expect, type Page } from "@playwright/test";
import { PROVIDER_URL } from "./servers";

/** Fills the provider's sign-in (or sign-up, or confirm) form and submits it. */
export async function signInAtProvider(
  page: Page,
  login: string,
  { minutesAgo = 0, button = "Sign in" }: { minutesAgo?: number; button?: string } = {},
): Promise<void> {
  await page.waitForURL(`${PROVIDER_URL}/interaction/**`);
  await page.getByLabel("Login").fill(login);
  await page.getByLabel("Password").fill("any password");
  await page.getByLabel("Signed in minutes ago").fill(String(minutesAgo));
  await page.getByRole("button", { name: button, exact: true }).click();
}

/** A logout without `id_token_hint` asks first, as Authgear's does. */
export async function confirmSignOutAtProvider(page: Page): Promise<void> {
  await page.waitForURL(`${PROVIDER_URL}/session/end**`);
  await expect(page.getByRole("button", { name: "Yes, sign me out" })).toBeVisible();
  await page.getByRole("button", { name: "Yes, sign me out" }).click();
}

/** Every token string the provider has issued so far. */
export async function issuedTokens(): Promise<string[]> {
  const response = await fetch(`${PROVIDER_URL}/__test__/tokens`);
  return response.json();
}

/** What the provider has recorded: refreshes, revocations, end-session calls. */
export async function providerEvents(): Promise<{ type: string; [detail: string]: unknown }[]> {
  const response = await fetch(`${PROVIDER_URL}/__test__/events`);
  return response.json();
}

/**
 * Sends the app a signed Authgear webhook (as Authgear does: no cookie, an
 * HMAC of the body), e.g. `user.disabled` for `login`'s user. The local
 * provider's subject is the login.
 */
export async function signedWebhook(type: string, login: string): Promise<number> {
  const { createHmac, randomUUID } = await import("node:crypto");
  const { APP_URL, WEBHOOK_SECRET } = await import("./servers");
  const body = JSON.stringify({
    id: randomUUID(),
    seq: 1,
    type,
    payload: { user: { id: login } },
    context: { timestamp: Math.floor(Date.now() / 1000) },
  });
  const signature = createHmac("sha256", WEBHOOK_SECRET).update(body).digest("hex");
  const response = await fetch(`${APP_URL}/webhooks/authgear`, {
    method: "POST",
    headers: { "content-type": "application/json", "x-authgear-body-signature": signature },
    body,
  });
  return response.status;
}
