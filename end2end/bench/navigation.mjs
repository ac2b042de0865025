// How long a navigation in the browser takes to paint the new page: signed
// in, in Chromium, against a running app (scripts/bench starts it). Each
// step clicks a link and waits for the next page's heading and the frame
// after it; prints the timings' percentiles. A measurement, not a test.
//
//   node end2end/bench/navigation.mjs [navigations]
import { chromium } from "@playwright/test";

const APP = process.env.APP_URL ?? "http://localhost:3000";
const PROVIDER = process.env.PROVIDER_URL ?? "http://127.0.0.1:4000";
const NAVIGATIONS = Number(process.argv[2] ?? 100);
// Around the app's pages and back home, as a person clicking through would.
const TOUR = [
  ["/security", "Security"],
  ["/admin", "Admin"],
  ["/logout", "Sign out"],
  ["/no-such-page", "Page not found"],
  ["/", "Welcome Ada Lovelace"],
];

const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM_PATH ?? "/usr/bin/chromium",
  args: [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
  ],
});
try {
  const page = await browser.newPage();
  await page.goto(`${APP}/login`);
  await page.waitForURL(`${PROVIDER}/interaction/**`);
  await page.getByLabel("Login").fill("ada");
  await page.getByLabel("Password").fill("bench");
  await page.getByRole("button", { name: "Sign in", exact: true }).click();
  await page.waitForURL(`${APP}/`);
  await page.locator("body[data-hydrated=true]").waitFor();
  let loads = 0;
  page.on("request", (request) => {
    if (request.resourceType() === "document") loads += 1;
  });

  const timings = [];
  for (let i = 0; i < NAVIGATIONS; i += 1) {
    const [path, heading] = TOUR[i % TOUR.length];
    timings.push(
      await page.evaluate(
        ([path, heading]) =>
          new Promise((resolve) => {
            const link = document.createElement("a");
            link.href = path;
            document.body.append(link);
            const start = performance.now();
            link.click();
            link.remove();
            const painted = () => {
              const shown = document.querySelector("main h1")?.textContent === heading && location.pathname === path;
              // The frame after the one that holds the new heading: it has been painted.
              if (shown) requestAnimationFrame(() => resolve(performance.now() - start));
              else requestAnimationFrame(painted);
            };
            painted();
          }),
        [path, heading],
      ),
    );
  }
  timings.sort((a, b) => a - b);
  const at = (q) => timings[Math.min(timings.length - 1, Math.ceil(q * timings.length) - 1)].toFixed(1);
  console.log(
    `navigation in the browser (${timings.length}, signed in): p50 ${at(0.5)} ms, p95 ${at(0.95)} ms, max ${at(1)} ms; page loads: ${loads}`,
  );
} finally {
  await browser.close();
}
