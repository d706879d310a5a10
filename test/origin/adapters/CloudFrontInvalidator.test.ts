import { createServer, type IncomingMessage, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { CloudFrontClient } from "@aws-sdk/client-cloudfront";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { CloudFrontInvalidator } from "../../../origin/adapters/CloudFrontInvalidator";

interface Received {
  readonly method: string;
  readonly path: string;
  readonly body: string;
}

/** CloudFront's CreateInvalidation on loopback: records each request and answers as the API does. */
class CloudFrontDouble {
  public readonly received: Received[] = [];
  public status = 201;
  private readonly server: Server;

  public constructor() {
    this.server = createServer(async (request, response) => {
      const body = await text(request);
      this.received.push({ method: request.method ?? "", path: request.url ?? "", body });
      if (this.status !== 201) {
        response.writeHead(this.status, { "content-type": "text/xml" });
        response.end(
          '<?xml version="1.0"?><ErrorResponse><Error><Type>Sender</Type><Code>TooManyInvalidationsInProgress</Code>' +
            "<Message>Too many.</Message></Error><RequestId>r</RequestId></ErrorResponse>",
        );
        return;
      }
      const distribution = /distribution\/([^/]+)\/invalidation/.exec(request.url ?? "")?.[1];
      response.writeHead(201, {
        "content-type": "text/xml",
        location: `https://cloudfront.amazonaws.com/2020-05-31/distribution/${distribution}/invalidation/I1`,
      });
      response.end(
        `<?xml version="1.0"?><Invalidation xmlns="http://cloudfront.amazonaws.com/doc/2020-05-31/"><Id>I1</Id>` +
          `<Status>InProgress</Status><CreateTime>2026-11-25T12:00:00Z</CreateTime>${body.replace(/<\?xml[^>]*>/, "")}</Invalidation>`,
      );
    });
  }

  public async start(): Promise<string> {
    await new Promise<void>((resolve) => this.server.listen(0, "127.0.0.1", resolve));
    return `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
  }

  public async stop(): Promise<void> {
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }
}

async function text(request: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of request) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString("utf8");
}

describe("CloudFrontInvalidator", () => {
  let cloudFront: CloudFrontDouble;
  let client: CloudFrontClient;

  beforeAll(async () => {
    cloudFront = new CloudFrontDouble();
    client = new CloudFrontClient({
      endpoint: await cloudFront.start(),
      region: "us-east-1",
      credentials: { accessKeyId: "test", secretAccessKey: "test" },
      maxAttempts: 1,
    });
  });

  afterAll(async () => {
    client?.destroy();
    await cloudFront?.stop();
  });

  beforeEach(() => {
    cloudFront.received.length = 0;
    cloudFront.status = 201;
  });

  it("creates one invalidation of the given paths with a fresh caller reference", async () => {
    // Prepare
    const invalidator = new CloudFrontInvalidator(client, "E2QWRUHAPOMQZL", () => "ref-1");

    // Act
    await invalidator.invalidate(["/journals/j/entries/e/images/*", "/dev/j/entries/e/images/*"]);

    // Assess
    expect(cloudFront.received).toHaveLength(1);
    const [request] = cloudFront.received;
    expect(request?.method).toBe("POST");
    expect(request?.path).toBe("/2020-05-31/distribution/E2QWRUHAPOMQZL/invalidation");
    expect(request?.body).toContain("<CallerReference>ref-1</CallerReference>");
    expect(request?.body).toContain("<Quantity>2</Quantity>");
    expect(request?.body).toContain("<Path>/journals/j/entries/e/images/*</Path>");
    expect(request?.body).toContain("<Path>/dev/j/entries/e/images/*</Path>");
  });

  it("sends nothing for no paths", async () => {
    // Prepare
    const invalidator = new CloudFrontInvalidator(client, "E2QWRUHAPOMQZL", () => "ref-2");

    // Act
    await invalidator.invalidate([]);

    // Assess
    expect(cloudFront.received).toEqual([]);
  });

  it("rejects when CloudFront refuses, for the caller to log", async () => {
    // Prepare
    cloudFront.status = 400;
    const invalidator = new CloudFrontInvalidator(client, "E2QWRUHAPOMQZL", () => "ref-3");

    // Act
    const invalidating = invalidator.invalidate(["/x"]);

    // Assess
    await expect(invalidating).rejects.toMatchObject({ name: "TooManyInvalidationsInProgress" });
  });
});
