import type { S3Client } from "@aws-sdk/client-s3";
import { createPresignedPost } from "@aws-sdk/s3-presigned-post";
import { StorageUnavailableError } from "../domain/errors";
import type { PresignedPost, UploadLimits, UploadSigner } from "../domain/ports";

/**
 * Presigned POSTs to S3 (or an S3-compatible server) with the client's credentials. The policy pins the
 * exact key and the size range; every field is in it, so a form cannot choose another key or add a
 * `Content-Type` (the finalize step sets the detected one).
 */
export class S3UploadSigner implements UploadSigner {
  /**
   * @param client signs with its credentials; on AWS they must allow `s3:PutObject` on the staging prefix
   * @param formUrl where clients send the form instead of the client's endpoint: the local gateway's own
   *   path to its S3-compatible server (the signature covers the policy, never the URL)
   */
  public constructor(
    private readonly client: S3Client,
    private readonly bucket: string,
    private readonly formUrl?: string,
  ) {}

  public async presignPost(key: string, limits: UploadLimits): Promise<PresignedPost> {
    let signed: PresignedPost;
    try {
      signed = await createPresignedPost(this.client, {
        Bucket: this.bucket,
        Key: key,
        Conditions: [["content-length-range", 1, limits.maxBytes]],
        Expires: limits.expiresInSeconds,
      });
    } catch (error) {
      throw new StorageUnavailableError("The upload could not be signed.", error);
    }
    return { url: this.formUrl ?? signed.url, fields: signed.fields };
  }
}
