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
