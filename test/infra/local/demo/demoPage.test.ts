import { mkdir, mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Browser, Page, Request } from "playwright-core";
import sharp from "sharp";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createImageGatewayClient } from "../../../../client/index.ts";
import { type LocalGateway, startLocalGateway } from "../../../../infra/local/gateway/LocalGateway";
import { createLocalOrigin } from "../../../../infra/local/gateway/localOrigin";
import type { DemoUser } from "../../../../infra/local/gateway/localState";
import { hasChromium, launchChromium, requireChromiumUnderCi } from "../../../support/chromium";
import { noisyPng, pngBytes } from "../../../support/images";

export const SCREENSHOTS = join(import.meta.dirname, "../../../../test-results");
const DIRECT_LIMIT = 64 * 1024;

requireChromiumUnderCi("demo page test");

describe.runIf(hasChromium)("the demo page, in Chromium", () => {
  let dataDir: string;
  let gateway: LocalGateway;
  let browser: Browser;
  let page: Page;

  beforeAll(async () => {
    dataDir = await mkdtemp(join(tmpdir(), "demo-page-"));
    gateway = await startLocalGateway({
      // A small direct limit, so that a file of a few hundred KB already takes the presigned route.
      env: { DATA_DIR: dataDir, MAX_DIRECT_UPLOAD_BYTES: String(DIRECT_LIMIT) },
      createOrigin: createLocalOrigin,
      port: 0,
      log: () => undefined,
    });
    browser = await launchChromium();
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
    // A srcset candidate's natural width is in CSS pixels of its slot; the bytes hold the real size.
    await expect
      .poll(() => img.evaluate((element: HTMLImageElement) => element.complete && element.naturalWidth > 0))
      .toBe(true);
    const chosen = await img.evaluate((element: HTMLImageElement) => element.currentSrc);
    const variant = await fetch(chosen);
    expect((await sharp(new Uint8Array(await variant.arrayBuffer())).metadata()).width).toBe(64);
    const src = await img.getAttribute("src");
    await page.screenshot({ path: join(SCREENSHOTS, "demo-page.png"), fullPage: true });

    // Assess: rendered from the gateway's own image URL, with an access token
    expect(src).toMatch(
      /^\/journals\/alice-travel\/entries\/lisbon-2026\/images\/[0-9a-f-]{36}\?w=640&token=eyJ/,
    );
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

  it("uploads a file above the direct limit straight to storage, and shows it once finalized", async () => {
    // Prepare
    await page.goto(`${gateway.url}/`);
    await expect.poll(() => page.getByText("No images yet").count()).toBe(1);
    const bytes = Buffer.from(noisyPng(4 * DIRECT_LIMIT));
    const posts: string[] = [];
    const recordPost = (request: Request) => {
      if (request.method() === "POST") posts.push(new URL(request.url()).pathname);
    };
    page.on("request", recordPost);
    // Every value the page gives its progress bar, recorded as it sets them
    await page.evaluate(() => {
      const bar = document.getElementById("progress") as HTMLProgressElement;
      const value = Object.getOwnPropertyDescriptor(HTMLProgressElement.prototype, "value");
      const seen: number[] = [];
      Object.assign(window, { progressSeen: seen });
      Object.defineProperty(bar, "value", {
        get: () => value?.get?.call(bar),
        set: (next: number) => {
          seen.push(next);
          value?.set?.call(bar, next);
        },
      });
    });

    // Act
    await page
      .getByTestId("file")
      .setInputFiles({ name: "panorama.png", mimeType: "image/png", buffer: bytes });
    const img = page.getByTestId("image").locator("img");
    await img.waitFor();
    await expect
      .poll(() => img.evaluate((element: HTMLImageElement) => element.complete && element.naturalWidth))
      .toBeGreaterThan(0);
    await page.screenshot({ path: join(SCREENSHOTS, "demo-page-presigned.png"), fullPage: true });
    page.off("request", recordPost);

    // Assess: a ticket, the form to the gateway's own storage door, never the direct route
    const entryPath = "/api/journals/alice-travel/entries/lisbon-2026";
    expect(posts).toContain(`${entryPath}/uploads`);
    expect(posts).toContain(`/_local/s3/${gateway.storage.bucket}`);
    expect(posts).not.toContain(`${entryPath}/images`);
    const progress = await page.evaluate(
      () => (window as unknown as { progressSeen: number[] }).progressSeen,
    );
    expect(progress).toContain(100);
    expect(await page.getByTestId("image").locator("figcaption span").textContent()).toContain(
      "panorama.png",
    );
    const alice = gateway.demoUsers?.[0] as DemoUser;
    const listing = await fetch(`${gateway.url}${entryPath}/images`, {
      headers: { authorization: alice.authorization },
    });
    expect(((await listing.json()) as { images: { size: number }[] }).images).toEqual([
      expect.objectContaining({ size: bytes.byteLength, content_type: "image/png" }),
    ]);
  }, 60_000);

  it("shows why a file above the direct limit was refused", async () => {
    // Prepare
    await page.goto(`${gateway.url}/`);
    const html = Buffer.from(`<html><script>alert(1)</script>${" ".repeat(2 * DIRECT_LIMIT)}</html>`);

    // Act
    await page.getByTestId("file").setInputFiles({ name: "trojan.png", mimeType: "image/png", buffer: html });

    // Assess
    const message = page.getByTestId("message");
    await expect
      .poll(() => message.textContent(), { timeout: 20_000 })
      .toContain("Could not upload trojan.png");
    expect(await message.textContent()).toContain(
      "Only PNG, JPEG, GIF, WebP and AVIF images are accepted. (unsupported_type)",
    );
  }, 60_000);

  it("renders the gallery through the client: src from gw.imageUrl, srcset from gw.srcset", async () => {
    // Prepare: a 1000 px wide image in an empty entry
    const alice = gateway.demoUsers?.[0] as DemoUser;
    const gw = createImageGatewayClient({ baseUrl: gateway.url, authorization: () => alice.authorization });
    await gw.deleteAll("alice-travel", "lisbon-2026");
    const record = await gw.upload("alice-travel", "lisbon-2026", pngBytes(1000, 750, 4), { name: "wide" });
    expect([record.width, record.height]).toEqual([1000, 750]);

    // Act
    await page.goto(`${gateway.url}/`);
    const img = page.getByTestId("image").locator("img");
    await img.waitFor();
    await expect
      // The first request for a variant makes it (AVIF for Chromium), which takes a while on a busy machine.
      .poll(() => img.evaluate((element: HTMLImageElement) => element.complete && element.currentSrc), {
        timeout: 20_000,
      })
      .toBeTruthy();

    // Assess: the page's srcset is the client's, token aside: variants below 1000 px, then the next
    // width, described as the 1000 px the gateway answers it with
    const srcset = (await img.getAttribute("srcset")) ?? "";
    const withoutTokens = (value: string) =>
      value.replaceAll(gateway.url, "").replace(/token=[^ &,]+/g, "token=T");
    const expected = await gw.srcset(record);
    expect(withoutTokens(srcset)).toBe(withoutTokens(expected));
    expect(srcset.split(", ").map((candidate) => candidate.split(" ")[1])).toEqual([
      "160w",
      "320w",
      "640w",
      "1000w",
    ]);
    expect(srcset).toMatch(new RegExp(`^${record.url}\\?w=160&token=eyJ[^ ]+ 160w, `));
    expect(await img.getAttribute("src")).toMatch(new RegExp(`^${record.url}\\?w=640&token=eyJ`));
    // The browser chose one of the candidates, and each is as wide as its descriptor says
    const currentSrc = await img.evaluate((element: HTMLImageElement) => element.currentSrc);
    expect(srcset).toContain(currentSrc.replace(gateway.url, ""));
    for (const candidate of srcset.split(", ")) {
      const [url, descriptor] = candidate.split(" ");
      const response = await fetch(`${gateway.url}${url}`);
      expect(response.status).toBe(200);
      const { width } = await sharp(new Uint8Array(await response.arrayBuffer())).metadata();
      expect(`${width}w`).toBe(descriptor);
    }
    await gw.deleteAll("alice-travel", "lisbon-2026");
  }, 60_000);
});
