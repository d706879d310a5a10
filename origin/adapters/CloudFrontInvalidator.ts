import { type CloudFrontClient, CreateInvalidationCommand } from "@aws-sdk/client-cloudfront";
import type { Invalidator } from "../domain/ports";

/** Removes paths from a CloudFront distribution's edge caches with one `CreateInvalidation` per call. */
export class CloudFrontInvalidator implements Invalidator {
  /** @param callerReference unique per invalidation, so a retried call is not taken for a new one */
  public constructor(
    private readonly client: CloudFrontClient,
    private readonly distributionId: string,
    private readonly callerReference: () => string,
  ) {}

  public async invalidate(paths: readonly string[]): Promise<void> {
    if (paths.length === 0) return;
    await this.client.send(
      new CreateInvalidationCommand({
        DistributionId: this.distributionId,
        InvalidationBatch: {
          CallerReference: this.callerReference(),
          Paths: { Quantity: paths.length, Items: [...paths] },
        },
      }),
    );
  }
}

/** Where no distribution is configured (locally) there is no cache to clear. */
export const noInvalidation: Invalidator = { invalidate: async () => undefined };
