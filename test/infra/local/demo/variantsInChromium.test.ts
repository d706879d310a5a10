import { mkdtemp, readFile, rm } from "node:fs/promises";
import { createServer } from "node:http";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Browser, Page } from "playwright-core";
import sharp from "sharp";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type LocalGateway, startLocalGateway } from "../../../../infra/local/gateway/LocalGateway";
import { close, listen } from "../../../../infra/local/gateway/listen";
import { createLocalOrigin } from "../../../../infra/local/gateway/localOrigin";
import type { DemoUser } from "../../../../infra/local/gateway/localState";
import type { ImageRecord } from "../../../../origin/domain/ports";
import { hasChromium, launchChromium, requireChromiumUnderCi } from "../../../support/chromium";
import type { Bytes } from "../../../support/images";
import { uploadForm } from "../../../support/origin";
import { MARK, MEADOW_PATH, MEADOW_SIZE, phonePhoto } from "../../../support/photos";

requireChromiumUnderCi("variants in Chromium");

describe.runIf(hasChromium)("variants and upright photos, in Chromium", () => {
  let dataDir: string;
  let gateway: LocalGateway;
  let browser: Browser;
  let page: Page;
  let alice: DemoUser;
  const entryPath = "/journals/alice-travel/entries/kyoto-2026";

  beforeAll(async () => {
    dataDir = await mkdtemp(join(tmpdir(), "variants-chromium-"));
    gateway = await startLocalGateway({
      env: { DATA_DIR: dataDir },
      createOrigin: createLocalOrigin,
      port: 0,
      log: () => undefined,
    });
    alice = gateway.demoUsers?.[0] as DemoUser;
    browser = await launchChromium();
    page = await browser.newPage({ viewport: { width: 1100, height: 720 } });
  }, 60_000);

  afterAll(async () => {
    await browser?.close();
    await gateway?.close();
    await rm(dataDir, { recursive: true, force: true });
  });

  async function upload(bytes: Bytes, filename: string): Promise<ImageRecord> {
    const response = await fetch(`${gateway.url}/api${entryPath}/images`, {
      method: "POST",
      headers: { authorization: alice.authorization },
      body: uploadForm(bytes, { filename }),
    });
    expect(response.status).toBe(201);
    return (await response.json()) as ImageRecord;
  }

  it("the demo gallery downloads variants, not originals (performance entries)", async () => {
    // Prepare: three real photographs in the entry, larger than any gallery cell
    const photo = await readFile(MEADOW_PATH);
    const records = [
      await upload(new Uint8Array(photo), "meadow.jpg"),
      await upload(new Uint8Array(await sharp(photo).flop().jpeg({ quality: 90 }).toBuffer()), "flop.jpg"),
      await upload(new Uint8Array(await sharp(photo).flip().jpeg({ quality: 90 }).toBuffer()), "flip.jpg"),
    ];

    // Act: open the page on that entry, as a person would
    await page.goto(`${gateway.url}/`);
    await page.getByTestId("entry").selectOption("alice-travel/kyoto-2026");
    await expect.poll(() => page.getByTestId("image").count(), { timeout: 20_000 }).toBe(3);
    await expect
      .poll(() =>
        page.evaluate(() =>
          [...document.querySelectorAll<HTMLImageElement>("#gallery img")].every(
            (img) => img.complete && img.naturalWidth > 0,
          ),
        ),
      )
      .toBe(true);
    const downloads = await page.evaluate(() =>
      performance
        .getEntriesByType("resource")
        .filter((entry) => new URL(entry.name).pathname.includes("/images/"))
        .map((entry) => {
          const timing = entry as PerformanceResourceTiming;
          return { url: entry.name, bytes: timing.encodedBodySize };
        }),
    );

    // Assess: every image came as a preset variant in a modern format, none as the original
    expect(downloads.length).toBeGreaterThanOrEqual(records.length);
    for (const { url } of downloads) {
      const width = new URL(url).searchParams.get("w");
      expect(url, "a variant").toMatch(/[?&]w=\d+/);
      expect([160, 320, 640]).toContain(Number(width));
    }
    for (const record of records) {
      expect(downloads.some(({ url }) => new URL(url).pathname === record.url)).toBe(true);
    }
    const variantBytes = downloads.reduce((total, { bytes }) => total + bytes, 0);
    const originalBytes = records.reduce((total, record) => total + (record.size ?? 0), 0);
    expect(variantBytes).toBeLessThan(originalBytes / 2);
    const served = await fetch(downloads[0]?.url as string, {
      headers: { accept: "image/avif,image/webp,*/*" },
    });
    expect(served.headers.get("content-type")).toBe("image/avif");
  }, 60_000);

  it("displays a phone photo with EXIF orientation 6 upright, its mark top left", async () => {
    // Prepare
    const record = await upload(await phonePhoto(), "phone.jpg");
    const token = (await (
      await fetch(`${gateway.url}/api${entryPath}/access`, {
        method: "POST",
        headers: { authorization: alice.authorization },
      })
    ).json()) as { token: string };

    // Act: Chromium draws the original and a variant as a page would
    await page.goto(`${gateway.url}/`);
    const drawn = await page.evaluate(
      async ({ urls, mark }) =>
        Promise.all(
          urls.map(async (url) => {
            const img = new Image();
            img.src = url;
            await img.decode();
            const canvas = document.createElement("canvas");
            canvas.width = img.naturalWidth;
            canvas.height = img.naturalHeight;
            const context = canvas.getContext("2d") as CanvasRenderingContext2D;
            context.drawImage(img, 0, 0);
            const inside = Math.floor((mark / 4) * (img.naturalWidth / 480));
            return {
              width: img.naturalWidth,
              height: img.naturalHeight,
              corner: [...context.getImageData(inside, inside, 1, 1).data.slice(0, 3)],
              opposite: [
                ...context.getImageData(img.naturalWidth - 2, img.naturalHeight - 2, 1, 1).data.slice(0, 3),
              ],
            };
          }),
        ),
      {
        urls: [`${record.url}?token=${token.token}`, `${record.url}?w=320&token=${token.token}`],
        mark: MARK.size,
      },
    );

    // Assess: landscape as displayed, the red mark in the top-left corner and not elsewhere
    const [original, variant] = drawn as [(typeof drawn)[0], (typeof drawn)[0]];
    expect([original.width, original.height]).toEqual([MEADOW_SIZE.width, MEADOW_SIZE.height]);
    expect([variant.width, variant.height]).toEqual([
      320,
      Math.round((320 * MEADOW_SIZE.height) / MEADOW_SIZE.width),
    ]);
    for (const { corner, opposite } of [original, variant]) {
      expect(corner[0]).toBeGreaterThan(180);
      expect(corner[1]).toBeLessThan(90);
      expect(corner[2]).toBeLessThan(90);
      expect((opposite[0] as number) > 180 && (opposite[1] as number) < 90).toBe(false);
    }
  }, 60_000);

  it("follows the generator's redirect for a variant too large to answer to the very URL, token and all", async () => {
    // Prepare: a server answering as the origin group does for an oversize variant, then as S3 does
    const image = await sharp(MEADOW_PATH).resize(40).png().toBuffer();
    const seen: string[] = [];
    const server = createServer((request, response) => {
      seen.push(request.url ?? "");
      if (seen.length === 1) {
        response.writeHead(302, { location: "#", "cache-control": "no-store" });
        response.end();
      } else {
        response.writeHead(200, { "content-type": "image/png", "content-length": image.byteLength });
        response.end(image);
      }
    });
    const port = await listen(server, 0);

    try {
      // Act
      const width = await page.evaluate(async (url) => {
        const img = new Image();
        img.src = url;
        await img.decode();
        return img.naturalWidth;
      }, `http://127.0.0.1:${port}/journals/j/entries/e/images/i?w=1920&token=abc`);

      // Assess
      expect(width).toBe(40);
      expect(seen).toEqual([
        "/journals/j/entries/e/images/i?w=1920&token=abc",
        "/journals/j/entries/e/images/i?w=1920&token=abc",
      ]);
    } finally {
      await close(server);
    }
  }, 60_000);
});
