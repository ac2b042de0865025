// What a person does on the local provider's own pages.
import { expect, type Page } from "@playwright/test";
import { PROVIDER_URL } from "./servers";

export async function signInAtProvider(page: Page, login: string): Promise<void> {
  await page.waitForURL(`${PROVIDER_URL}/**`);
  await page.locator('input[name="login"]').fill(login);
  await page.locator('input[name="password"]').fill("any password");
  await page.getByRole("button", { name: "Sign-in" }).click();
}

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
export async function providerEvents(): Promise<{ type: string }[]> {
  const response = await fetch(`${PROVIDER_URL}/__test__/events`);
  return response.json();
}
