import { existsSync } from "node:fs";
import { mkdir, mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { type Browser, chromium, type Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type LocalGateway, startLocalGateway } from "../../infra/local/LocalGateway";
import { createLocalOrigin } from "../../infra/local/localOrigin";
import type { DemoUser } from "../../infra/local/localState";
import { pngBytes } from "../support/images";

/** Debian's Chromium; no browser is downloaded. `.ci/run` installs it when missing. */
const CHROMIUM = process.env.CHROMIUM_PATH ?? "/usr/bin/chromium";
const hasChromium = existsSync(CHROMIUM);
export const SCREENSHOTS = join(import.meta.dirname, "../../test-results");

if (!hasChromium && process.env.CI === "true") {
  throw new Error(
    `Chromium is required under CI=true but ${CHROMIUM} is missing (apt-get install chromium).`,
  );
}
if (!hasChromium)
  console.warn(`demo page test skipped: no Chromium at ${CHROMIUM} (apt-get install chromium)`);

describe.runIf(hasChromium)("the demo page, in Chromium", () => {
  let dataDir: string;
  let gateway: LocalGateway;
  let browser: Browser;
  let page: Page;

  beforeAll(async () => {
    dataDir = await mkdtemp(join(tmpdir(), "demo-page-"));
    gateway = await startLocalGateway({
      env: { DATA_DIR: dataDir },
      createOrigin: createLocalOrigin,
      port: 0,
      log: () => undefined,
    });
    browser = await chromium.launch({
      executablePath: CHROMIUM,
      // Flags for a root sandbox with no network beyond loopback.
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
    page = await browser.newPage({ viewport: { width: 1100, height: 720 } });
    await mkdir(SCREENSHOTS, { recursive: true });
  }, 60_000);

  afterAll(async () => {
    await browser?.close();
    await gateway?.close();
    await rm(dataDir, { recursive: true, force: true });
  });

  it("uploads a PNG, shows it from the gateway, and deletes it", async () => {
    // Prepare
    await page.goto(`${gateway.url}/`);
    await expect.poll(() => page.getByText("No images yet").count()).toBe(1);

    // Act: upload through the file input, as a person choosing a file would
    await page
      .getByTestId("file")
      .setInputFiles({ name: "sunset.png", mimeType: "image/png", buffer: Buffer.from(pngBytes(64, 48, 7)) });
    const figure = page.getByTestId("image");
    await figure.waitFor();
    const img = figure.locator("img");
    await expect
      .poll(() => img.evaluate((element: HTMLImageElement) => element.complete && element.naturalWidth))
      .toBe(64);
    const src = await img.getAttribute("src");
    await page.screenshot({ path: join(SCREENSHOTS, "demo-page.png"), fullPage: true });

    // Assess: rendered from the gateway's own image URL, with an access token
    expect(src).toMatch(/^\/journals\/alice-travel\/entries\/lisbon-2026\/images\/[0-9a-f-]{36}\?token=eyJ/);
    const alice = gateway.demoUsers?.[0] as DemoUser;
    const listing = await fetch(`${gateway.url}/api/journals/alice-travel/entries/lisbon-2026/images`, {
      headers: { authorization: alice.authorization },
    });
    expect(((await listing.json()) as { images: unknown[] }).images).toHaveLength(1);

    // Act: delete it from the page
    await figure.getByTestId("delete").click();

    // Assess
    await expect.poll(() => page.getByTestId("image").count()).toBe(0);
    const after = await fetch(`${gateway.url}/api/journals/alice-travel/entries/lisbon-2026/images`, {
      headers: { authorization: alice.authorization },
    });
    expect(((await after.json()) as { images: unknown[] }).images).toEqual([]);
  }, 60_000);

  it("shows the gateway's refusal as a readable message", async () => {
    // Act: bob opens alice's entry
    await page.goto(`${gateway.url}/`);
    await page.getByTestId("user").selectOption("bob");

    // Assess
    const message = page.getByTestId("message");
    await expect.poll(() => message.textContent()).toContain("does not open this entry");
    expect(await message.textContent()).toContain("403 forbidden");
  }, 60_000);
});
