// Playwright's `test`, with one more check on every test: the app's pages
// logged no error or warning (a hydration mismatch, a panic, a refused
// script).
import { expect, test as base } from "@playwright/test";
import { APP_URL } from "./servers";

export const test = base.extend<{ consoleProblems: string[] }>({
  consoleProblems: [
    async ({ page }, use) => {
      const problems: string[] = [];
      page.on("console", (message) => {
        if (message.type() !== "error" && message.type() !== "warning") return;
        // The app's own, not the provider's pages (which ask for web fonts
        // this offline machine cannot fetch).
        const source = message.location().url;
        if (source && !source.startsWith(APP_URL)) return;
        const text = message.text();
        // The browser logs every response with an error status itself; the
        // app answers 401, 403 and 404 on purpose, and the tests check them.
        if (/^Failed to load resource: the server responded with a status of 4\d\d/.test(text)) return;
        problems.push(`${message.type()}: ${text} (${message.location().url})`);
      });
      page.on("pageerror", (error) => problems.push(`uncaught: ${error.message}`));
      await use(problems);
      expect(problems, "errors and warnings in the browser's console").toEqual([]);
    },
    { auto: true },
  ],
});

export { expect };
