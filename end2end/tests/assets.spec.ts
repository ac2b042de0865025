// The built script, wasm and stylesheet: hashed names, precompressed bodies,
// cached for a year; a repeat visit fetches none of them again. Pages are
// compressed on the fly and never stored by a cache.
import { type Page } from "@playwright/test";
import { expect, test } from "../support/test";
import { APP_URL } from "../support/servers";
import { signInAtProvider } from "../support/provider";

const ASSET = /\/pkg\/authgear-leptos\.[A-Za-z0-9_-]+\.(js|wasm|css)$/;

/**
 * The app's assets that came over the network, not from the browser's cache
 * (memory or disk), as the browser reports each response.
 */
async function countAssetResponses(page: Page) {
  const cached = new Set<string>();
  const responses: { id: string; path: string; fromDisk: boolean }[] = [];
  const cdp = await page.context().newCDPSession(page);
  await cdp.send("Network.enable");
  cdp.on("Network.requestServedFromCache", ({ requestId }) => cached.add(requestId));
  cdp.on("Network.responseReceived", ({ requestId, response }) => {
    const path = new URL(response.url).pathname;
    if (path.startsWith("/pkg/")) {
      responses.push({ id: requestId, path, fromDisk: response.fromDiskCache || response.fromPrefetchCache === true });
    }
  });
  return {
    fromNetwork: () => responses.filter((r) => !r.fromDisk && !cached.has(r.id)).map((r) => r.path),
    clear: () => {
      responses.length = 0;
      cached.clear();
    },
  };
}

/** Bytes each asset took on the wire for this page, by the browser's own count. */
const transferred = (page: Page) =>
  page.evaluate(() =>
    (performance.getEntriesByType("resource") as PerformanceResourceTiming[])
      .filter((entry) => new URL(entry.name).pathname.startsWith("/pkg/"))
      .map((entry) => ({ path: new URL(entry.name).pathname, bytes: entry.transferSize })),
  );

async function load(page: Page) {
  await page.goto("/");
  await expect(page.locator("body")).toHaveAttribute("data-hydrated", "true");
}

test("a repeat visit downloads no script, wasm or stylesheet again", async ({ page }) => {
  const assets = await countAssetResponses(page);
  await load(page);
  const first = assets.fromNetwork();
  const kinds = new Set(first.map((path) => path.split(".").pop()));
  expect([...kinds].sort(), "the first visit fetches each asset").toEqual(["css", "js", "wasm"]);
  for (const path of first) expect(path, "a hashed name").toMatch(ASSET);
  const firstBytes = await transferred(page);
  expect(firstBytes.every(({ bytes }) => bytes > 0), JSON.stringify(firstBytes)).toBe(true);

  assets.clear();
  await load(page);
  expect(assets.fromNetwork(), "nothing fetched again").toEqual([]);
  const repeat = await transferred(page);
  expect(repeat.length, "the assets were used").toBeGreaterThanOrEqual(3);
  expect(repeat, "no byte on the wire").toEqual(repeat.map(({ path }) => ({ path, bytes: 0 })));

  // Signed in, the same: only the page itself comes from the server.
  await page.goto("/login");
  await signInAtProvider(page, "ada");
  await page.waitForURL(`${APP_URL}/`);
  assets.clear();
  await load(page);
  expect(assets.fromNetwork(), "nothing fetched again after signing in").toEqual([]);
});

test("assets are precompressed and immutable; pages are compressed and never stored", async ({ page, request }) => {
  await load(page);
  const assets = await page.evaluate(() =>
    [
      ...Array.from(document.querySelectorAll<HTMLLinkElement>("link[href^='/pkg/']"), (link) => link.getAttribute("href")),
    ].filter((href): href is string => !!href),
  );
  const wasm = assets.find((href) => href.endsWith(".wasm"));
  const css = assets.find((href) => href.endsWith(".css"));
  expect(wasm, "the wasm is preloaded").toMatch(ASSET);
  expect(css, "the stylesheet").toMatch(ASSET);

  for (const [encoding, expected] of [
    ["br, gzip", "br"],
    ["gzip", "gzip"],
  ] as const) {
    for (const path of [wasm!, css!]) {
      const response = await request.get(path, { headers: { "Accept-Encoding": encoding } });
      expect(response.status()).toBe(200);
      const headers = response.headers();
      expect(headers["content-encoding"], `${path} for ${encoding}`).toBe(expected);
      expect(headers["cache-control"]).toBe("public, max-age=31536000, immutable");
      expect(headers["vary"]).toContain("accept-encoding");
    }
  }
  const wasmResponse = await request.get(wasm!, { headers: { "Accept-Encoding": "br" } });
  expect(wasmResponse.headers()["content-type"]).toBe("application/wasm");
  // The body is the wasm itself once decoded ("\0asm").
  expect([...(await wasmResponse.body()).subarray(0, 4)]).toEqual([0, 0x61, 0x73, 0x6d]);

  const missing = await request.get("/pkg/authgear-leptos.no-such-hash.wasm");
  expect(missing.status()).toBe(404);
  expect(missing.headers()["cache-control"], "a 404 is not kept").toBe("no-store");

  const home = await request.get("/", { headers: { "Accept-Encoding": "br" } });
  expect(home.headers()["content-encoding"]).toBe("br");
  expect(home.headers()["cache-control"]).toBe("no-store");
});
