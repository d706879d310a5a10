import {
  CopyObjectCommand,
  DeleteObjectCommand,
  GetObjectCommand,
  HeadObjectCommand,
  PutObjectCommand,
  paginateListObjectsV2,
  type S3Client,
} from "@aws-sdk/client-s3";
import { StorageUnavailableError } from "../domain/errors";
import type {
  CopyObjectOptions,
  ImageStore,
  PutObjectOptions,
  ReadOptions,
  StoredObject,
  StoredObjectInfo,
} from "../domain/ports";

/** S3, or any S3-compatible server the client's endpoint names, as the gateway's `ImageStore`. */
export class S3ImageStore implements ImageStore {
  /**
   * @param client configured for the bucket's region, or for an S3-compatible endpoint
   * @param listPageSize keys per listing request; S3 caps it at 1000
   */
  /**
   * @param deniedIsMissing read S3's `AccessDenied` as an absent object: right for a role that may read
   *   every key it asks for but may not list the bucket, to which S3 answers a missing key with 403
   */
  public constructor(
    private readonly client: S3Client,
    private readonly bucket: string,
    private readonly listPageSize = 1000,
    private readonly deniedIsMissing = false,
  ) {}

  /** Writes the bytes with their detected type; S3 checks them against the SHA-256 on arrival. */
  public async put(key: string, bytes: Uint8Array, options: PutObjectOptions): Promise<void> {
    await this.send("write", false, () =>
      this.client.send(
        new PutObjectCommand({
          Bucket: this.bucket,
          Key: key,
          Body: bytes,
          ContentLength: bytes.byteLength,
          ContentType: options.contentType,
          ChecksumSHA256: Buffer.from(options.sha256, "hex").toString("base64"),
        }),
      ),
    );
  }

  public async head(key: string): Promise<StoredObjectInfo | undefined> {
    const head = await this.send("read", true, () =>
      this.client.send(new HeadObjectCommand({ Bucket: this.bucket, Key: key })),
    );
    if (!head) return undefined;
    return {
      key,
      size: head.ContentLength ?? 0,
      lastModified: head.LastModified ?? new Date(0),
      eTag: head.ETag,
      contentType: head.ContentType,
    };
  }

  public async get(key: string): Promise<StoredObject | undefined> {
    return this.send("read", true, async () => {
      const object = await this.client.send(new GetObjectCommand({ Bucket: this.bucket, Key: key }));
      const bytes = (await object.Body?.transformToByteArray()) ?? new Uint8Array();
      return {
        key,
        size: bytes.byteLength,
        lastModified: object.LastModified ?? new Date(0),
        contentType: object.ContentType,
        bytes,
      };
    });
  }

  public async readStart(
    key: string,
    length: number,
    options: ReadOptions = {},
  ): Promise<Uint8Array | undefined> {
    return this.send("read", true, async () => {
      try {
        const object = await this.client.send(
          new GetObjectCommand({
            Bucket: this.bucket,
            Key: key,
            Range: `bytes=0-${length - 1}`,
            IfMatch: options.ifMatch,
          }),
        );
        return (await object.Body?.transformToByteArray()) ?? new Uint8Array();
      } catch (error) {
        // S3 answers any range of an empty object with 416: its start is all of it, nothing.
        if ((error as { name?: unknown } | null)?.name === "InvalidRange") return new Uint8Array();
        throw error;
      }
    });
  }

  public async stream(
    key: string,
    options: ReadOptions = {},
  ): Promise<AsyncIterable<Uint8Array> | undefined> {
    const object = await this.send("read", true, () =>
      this.client.send(new GetObjectCommand({ Bucket: this.bucket, Key: key, IfMatch: options.ifMatch })),
    );
    return object && this.chunks(object.Body);
  }

  /** The body's chunks copied into the buffer as they arrive: never a list of them, never a second copy. */
  public async readAll(
    key: string,
    size: number,
    options: ReadOptions = {},
  ): Promise<Uint8Array | undefined> {
    const chunks = await this.stream(key, options);
    if (!chunks) return undefined;
    const bytes = Buffer.allocUnsafe(size);
    let read = 0;
    for await (const chunk of chunks) {
      // Longer than measured: another version; leaving the loop ends the read.
      if (read + chunk.byteLength > size) return undefined;
      bytes.set(chunk, read);
      read += chunk.byteLength;
    }
    return read === size ? bytes : undefined;
  }

  /** A store-side copy: the bytes never pass through this process, whatever their size. */
  public async copy(from: string, to: string, options: CopyObjectOptions): Promise<boolean> {
    const copied = await this.send("copy", true, () =>
      this.client.send(
        new CopyObjectCommand({
          Bucket: this.bucket,
          Key: to,
          CopySource: `${this.bucket}/${from.split("/").map(encodeURIComponent).join("/")}`,
          CopySourceIfMatch: options.ifMatch,
          // Without REPLACE, S3 keeps the source's metadata and ignores the type given here.
          MetadataDirective: "REPLACE",
          ContentType: options.contentType,
        }),
      ),
    );
    return copied !== undefined;
  }

  public async delete(key: string): Promise<void> {
    await this.send("delete", false, () =>
      this.client.send(new DeleteObjectCommand({ Bucket: this.bucket, Key: key })),
    );
  }

  public async *list(prefix: string): AsyncIterable<StoredObjectInfo> {
    const pages = paginateListObjectsV2(
      { client: this.client, pageSize: this.listPageSize },
      { Bucket: this.bucket, Prefix: prefix },
    );
    try {
      for await (const page of pages) {
        for (const object of page.Contents ?? []) {
          if (object.Key === undefined) continue;
          yield { key: object.Key, size: object.Size ?? 0, lastModified: object.LastModified ?? new Date(0) };
        }
      }
    } catch (error) {
      throw new StorageUnavailableError("The image store could not be listed.", error);
    }
  }

  /** The chunks of a response body as they arrive; a broken connection is a `StorageUnavailableError`. */
  private async *chunks(body: unknown): AsyncIterable<Uint8Array> {
    // In Node the SDK answers a Readable (a web stream elsewhere): both yield their chunks as they come.
    if (typeof body !== "object" || body === null || !(Symbol.asyncIterator in body)) {
      throw new StorageUnavailableError("The image store answered without the image.");
    }
    try {
      yield* body as AsyncIterable<Uint8Array>;
    } catch (error) {
      throw new StorageUnavailableError("The image store could not read the image.", error);
    }
  }

  /**
   * Runs one call. When reading, an absent object (or not the version asked for) is `undefined`; every
   * other failure (a missing bucket included) is a `StorageUnavailableError`.
   */
  private async send<T>(what: string, reading: boolean, call: () => Promise<T>): Promise<T | undefined> {
    try {
      return await call();
    } catch (error) {
      if (reading && (isMissingObject(error) || (this.deniedIsMissing && isAccessDenied(error)))) {
        return undefined;
      }
      throw new StorageUnavailableError(`The image store could not ${what} the image.`, error);
    }
  }
}

function isAccessDenied(error: unknown): boolean {
  const { name, $metadata } = (error ?? {}) as { name?: unknown; $metadata?: { httpStatusCode?: number } };
  return name === "AccessDenied" || $metadata?.httpStatusCode === 403;
}

// HEAD answers carry no body, so a missing object is only a bare 404 ("NotFound"); GET names it, and a
// version that is no longer there fails its If-Match with 412.
function isMissingObject(error: unknown): boolean {
  const { name } = (error ?? {}) as { name?: unknown };
  return name === "NotFound" || name === "NoSuchKey" || name === "PreconditionFailed";
}
