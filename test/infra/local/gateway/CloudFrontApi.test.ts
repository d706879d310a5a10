import {
  CloudFrontClient,
  CreateInvalidationCommand,
  GetInvalidationCommand,
} from "@aws-sdk/client-cloudfront";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { CloudFrontApi } from "../../../../infra/local/gateway/CloudFrontApi";

const DISTRIBUTION = "ELOCALTEST";
const NOW = new Date("2026-12-01T08:00:00.000Z");
let api: CloudFrontApi;
let client: CloudFrontClient;
const applied: string[][] = [];

beforeAll(async () => {
  api = new CloudFrontApi({
    distributionId: DISTRIBUTION,
    invalidate: (paths) => applied.push([...paths]),
    now: () => NOW,
  });
  const endpoint = await api.start();
  client = new CloudFrontClient({
    region: "us-east-1",
    endpoint,
    credentials: { accessKeyId: "AKIDEXAMPLE", secretAccessKey: "secret" },
    maxAttempts: 1,
  });
});

afterAll(async () => {
  client?.destroy();
  await api?.stop();
});

function create(callerReference: string, paths: string[], distributionId = DISTRIBUTION) {
  return client.send(
    new CreateInvalidationCommand({
      DistributionId: distributionId,
      InvalidationBatch: {
        CallerReference: callerReference,
        Paths: { Quantity: paths.length, Items: paths },
      },
    }),
  );
}

describe("the local CloudFront API, through the AWS SDK", () => {
  it("creates an invalidation, applies its paths, and reports it as CloudFront does", async () => {
    // Act
    const created = await create("ref-1", ["/journals/j/entries/e/images/i", "/dev/j/entries/e/images/*"]);
    const fetched = await client.send(
      new GetInvalidationCommand({ DistributionId: DISTRIBUTION, Id: created.Invalidation?.Id }),
    );

    // Assess
    expect(created.$metadata.httpStatusCode).toBe(201);
    expect(created.Location).toBe(
      `${api.endpoint}/2020-05-31/distribution/${DISTRIBUTION}/invalidation/${created.Invalidation?.Id}`,
    );
    expect(created.Invalidation).toEqual({
      Id: expect.stringMatching(/^I[0-9A-F]{13}$/),
      Status: "InProgress",
      CreateTime: NOW,
      InvalidationBatch: {
        CallerReference: "ref-1",
        Paths: { Quantity: 2, Items: ["/journals/j/entries/e/images/i", "/dev/j/entries/e/images/*"] },
      },
    });
    expect(fetched.Invalidation).toMatchObject({ Id: created.Invalidation?.Id, Status: "Completed" });
    expect(applied).toContainEqual(["/journals/j/entries/e/images/i", "/dev/j/entries/e/images/*"]);
  });

  it("answers a retried call with the same caller reference with the first invalidation, applied once", async () => {
    // Prepare
    const before = applied.length;

    // Act
    const first = await create("ref-retry", ["/a"]);
    const again = await create("ref-retry", ["/a"]);
    const conflicting = create("ref-retry", ["/b"]);

    // Assess
    expect(again.Invalidation?.Id).toBe(first.Invalidation?.Id);
    await expect(conflicting).rejects.toMatchObject({
      name: "InvalidationBatchAlreadyExists",
      $metadata: { httpStatusCode: 409 },
    });
    expect(applied.length).toBe(before + 1);
  });

  it("refuses another distribution, a relative path and a * before the end, as the real API does", async () => {
    await expect(create("ref-2", ["/a"], "EOTHER")).rejects.toMatchObject({
      name: "NoSuchDistribution",
      $metadata: { httpStatusCode: 404 },
    });
    await expect(create("ref-3", ["a/b"])).rejects.toMatchObject({ name: "InvalidArgument" });
    await expect(create("ref-4", ["/a/*/b"])).rejects.toMatchObject({ name: "InvalidArgument" });
    await expect(
      client.send(new GetInvalidationCommand({ DistributionId: DISTRIBUTION, Id: "INOSUCHONE" })),
    ).rejects.toMatchObject({ name: "NoSuchInvalidation" });
  });

  it("refuses a request that is not signed, in the API's XML", async () => {
    // Act
    const response = await fetch(`${api.endpoint}/2020-05-31/distribution/${DISTRIBUTION}/invalidation`, {
      method: "POST",
      body: "<InvalidationBatch/>",
    });

    // Assess
    expect(response.status).toBe(403);
    expect(response.headers.get("content-type")).toBe("text/xml");
    expect(await response.text()).toMatch(
      /<ErrorResponse xmlns="http:\/\/cloudfront.amazonaws.com\/doc\/2020-05-31\/"><Error><Type>Sender<\/Type><Code>MissingAuthenticationToken<\/Code>/,
    );
  });

  it("refuses a batch whose Quantity does not match its paths", async () => {
    // Act: the SDK always counts right, so the document is written by hand
    const response = await fetch(`${api.endpoint}/2020-05-31/distribution/${DISTRIBUTION}/invalidation`, {
      method: "POST",
      headers: {
        authorization: "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20261201/us-east-1/cloudfront/aws4_request",
      },
      body:
        '<?xml version="1.0" encoding="UTF-8"?><InvalidationBatch xmlns="http://cloudfront.amazonaws.com/doc/2020-05-31/">' +
        "<Paths><Quantity>2</Quantity><Items><Path>/a</Path></Items></Paths><CallerReference>r</CallerReference></InvalidationBatch>",
    });

    // Assess
    expect(response.status).toBe(400);
    expect(await response.text()).toContain("<Code>InconsistentQuantities</Code>");
  });
});
