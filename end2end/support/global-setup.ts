import { rmSync } from "node:fs";
import { resolve } from "node:path";
import { startApp, startProvider, stopAll } from "./servers";

export default async function globalSetup() {
  stopAll();
  rmSync(resolve(__dirname, "../test-results/.servers"), { recursive: true, force: true });
  await startProvider();
  await startApp();
  return async () => stopAll();
}
