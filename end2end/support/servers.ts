// Starts and stops the two real processes the browser tests talk to: the
// local OpenID provider and the release build of the app.
import { spawn } from "node:child_process";
import { mkdirSync, openSync, readFileSync, writeFileSync, existsSync } from "node:fs";
import { join, resolve } from "node:path";

export const APP_URL = "http://localhost:3000";
export const PROVIDER_URL = "http://127.0.0.1:4000";
export const CLIENT_SECRET = "local-dev-secret-not-for-production";
/** Signs the Authgear webhooks the tests send (see `signedWebhook`). */
export const WEBHOOK_SECRET = "browser-tests-webhook-secret-0123456789abcdef";
/** Short, so the tests see refreshes happen. */
export const ACCESS_TOKEN_TTL_SECONDS = 3;

const root = resolve(__dirname, "../..");
export const builtSiteRoot = join(root, "target/site");
const state = resolve(__dirname, "../test-results/.servers");

export const appLogPath = join(state, "app.log");

function appEnv(): NodeJS.ProcessEnv {
  return {
    ...process.env,
    AUTHGEAR_DOMAIN: PROVIDER_URL,
    AUTHGEAR_CLIENT_ID: "authgear-leptos-demo",
    AUTHGEAR_CLIENT_SECRET: CLIENT_SECRET,
    APP_SECRET_KEY: "browser-tests-only-0123456789abcdef0123456789abcdef",
    AUTHGEAR_WEBHOOK_SECRET: WEBHOOK_SECRET,
    APP_URL,
    SESSION_DB_PATH: join(state, "sessions.db"),
    LEPTOS_SITE_ADDR: "127.0.0.1:3000",
    LEPTOS_SITE_ROOT: "target/site",
    LEPTOS_SITE_PKG_DIR: "pkg",
    LEPTOS_OUTPUT_NAME: "authgear-leptos",
    LEPTOS_ENV: "PROD",
    RUST_LOG: "info",
  };
}

async function waitFor(url: string, what: string): Promise<void> {
  const deadline = Date.now() + 30_000;
  while (Date.now() < deadline) {
    try {
      const response = await fetch(url);
      if (response.status < 500) return;
    } catch {
      // not listening yet
    }
    await new Promise((r) => setTimeout(r, 200));
  }
  throw new Error(`${what} did not start at ${url}; see ${state}`);
}

function start(name: string, command: string, args: string[], env: NodeJS.ProcessEnv): number {
  mkdirSync(state, { recursive: true });
  const log = openSync(join(state, `${name}.log`), "a");
  const child = spawn(command, args, { cwd: root, env, stdio: ["ignore", log, log], detached: true });
  child.unref();
  writeFileSync(join(state, `${name}.pid`), String(child.pid));
  return child.pid!;
}

function stop(name: string): void {
  const file = join(state, `${name}.pid`);
  if (!existsSync(file)) return;
  const pid = Number(readFileSync(file, "utf8"));
  try {
    process.kill(pid, "SIGTERM");
  } catch {
    // already gone
  }
}

async function gone(url: string): Promise<void> {
  const deadline = Date.now() + 10_000;
  while (Date.now() < deadline) {
    try {
      await fetch(url);
    } catch {
      return;
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`${url} is still answering`);
}

export async function startProvider(): Promise<void> {
  start("provider", "node", ["end2end/provider/server.mjs"], {
    ...process.env,
    APP_URL,
    PROVIDER_ACCESS_TOKEN_TTL: String(ACCESS_TOKEN_TTL_SECONDS),
  });
  await waitFor(`${PROVIDER_URL}/.well-known/openid-configuration`, "the provider");
}

export async function startApp(): Promise<void> {
  start("app", join(root, "target/release/server"), [], appEnv());
  await waitFor(`${APP_URL}/`, "the app");
}

export async function stopApp(): Promise<void> {
  stop("app");
  await gone(`${APP_URL}/`);
}

export async function restartApp(): Promise<void> {
  await stopApp();
  await startApp();
}

export function stopAll(): void {
  stop("app");
  stop("provider");
}

export function appLog(): string {
  return existsSync(appLogPath) ? readFileSync(appLogPath, "utf8") : "";
}
