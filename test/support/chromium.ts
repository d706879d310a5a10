import { existsSync } from "node:fs";
import { type Browser, chromium } from "playwright-core";

/** Debian's Chromium; no browser is downloaded. `.ci/run` installs it when missing. */
export const CHROMIUM = process.env.CHROMIUM_PATH ?? "/usr/bin/chromium";
export const hasChromium = existsSync(CHROMIUM);

/**
 * Refuses to go on without Chromium under `CI=true`; elsewhere warns that `suite` is skipped.
 *
 * @throws {Error} under CI when Chromium is missing
 */
export function requireChromiumUnderCi(suite: string): void {
  if (hasChromium) return;
  if (process.env.CI === "true") {
    throw new Error(
      `Chromium is required under CI=true but ${CHROMIUM} is missing (apt-get install chromium).`,
    );
  }
  console.warn(`${suite} skipped: no Chromium at ${CHROMIUM} (apt-get install chromium)`);
}

/** Chromium with the flags a root sandbox with no network beyond loopback needs. */
export function launchChromium(): Promise<Browser> {
  return chromium.launch({
    executablePath: CHROMIUM,
    args: [
      "--no-sandbox",
      "--disable-gpu",
      "--disable-quic",
      "--no-first-run",
      "--disable-background-networking",
      "--disable-component-update",
      "--disable-sync",
    ],
  });
}
