import { type AccessAnswer, AccessTokens } from "./AccessTokens.ts";
import { errorFromAnswer, ImageGatewayError, rejectionError, unexpected } from "./ImageGatewayError.ts";
import { multipartBody } from "./multipart.ts";
import { networkError, sendForm } from "./sendForm.ts";
import { fetchSettings } from "./settings.ts";
import { srcsetWidths } from "./srcset.ts";
import type {
  GatewaySettings,
  ImageGatewayClient,
  ImageGatewayClientOptions,
  ImageRecord,
  UploadBody,
  UploadOptions,
  VariantFormat,
} from "./types.ts";

/** `GET …/uploads/{id}`'s answer. */
type UploadStatus =
  | { readonly status: "pending"; readonly id: string }
  | { readonly status: "ready"; readonly id: string; readonly image: ImageRecord | null }
  | { readonly status: "rejected"; readonly id: string; readonly error: { code: string; message: string } };

/** A presigned upload's ticket, as far as the client needs it. */
interface UploadTicket {
  readonly id: string;
  readonly upload: { readonly url: string; readonly fields: Readonly<Record<string, string>> };
}

/** How a presigned upload's verdict is awaited: a short first wait, growing to a second, for two minutes. */
const FIRST_POLL_MS = 200;
const MAX_POLL_MS = 1000;
const READY_TIMEOUT_MS = 120_000;
/** The form's file name for bytes that came without one; the gateway then names the image itself. */
const FALLBACK_FILE_NAME = "image";

/**
 * A client for one gateway. Every call asks `authorization` for the app's credential; image URLs carry
 * access tokens the client fetches per entry and renews before they expire; the gateway's limits are read
 * once from its OpenAPI document. Works in browsers and in Node 20+, with `fetch` (and `XMLHttpRequest`,
 * where there is one, for upload progress) only.
 */
export function createImageGatewayClient(options: ImageGatewayClientOptions): ImageGatewayClient {
  const baseUrl = (options.baseUrl ?? "").replace(/\/+$/, "");
  const fetchFn = options.fetch ?? ((input, init) => globalThis.fetch(input, init));
  let settings: Promise<GatewaySettings> | undefined;

  /** The limits, fetched on first need; a failure is retried on the next call. */
  function gatewaySettings(): Promise<GatewaySettings> {
    settings ??= fetchSettings(baseUrl, fetchFn).catch((error: unknown) => {
      settings = undefined;
      throw error;
    });
    return settings;
  }

  const entryUrl = (journalId: string, entryId: string, rest: string) =>
    `${baseUrl}/api/journals/${encodeURIComponent(journalId)}/entries/${encodeURIComponent(entryId)}${rest}`;

  /** One JSON call of the API with the app's credential; the answer's JSON, or nothing for a 204. */
  async function call<T>(
    method: string,
    url: string,
    { json, signal }: { json?: unknown; signal?: AbortSignal | undefined } = {},
  ): Promise<T> {
    const headers: Record<string, string> = { authorization: await options.authorization() };
    if (json !== undefined) headers["content-type"] = "application/json";
    let response: Response;
    try {
      response = await fetchFn(url, {
        method,
        headers,
        body: json === undefined ? undefined : JSON.stringify(json),
        signal,
      });
    } catch (error) {
      if (signal?.aborted) throw signal.reason;
      throw networkError(url, error);
    }
    const body = await response.text();
    if (!response.ok) throw errorFromAnswer(response.status, body);
    if (response.status === 204) return undefined as T;
    try {
      return JSON.parse(body) as T;
    } catch {
      throw unexpected(response.status);
    }
  }

  const tokens = new AccessTokens((journalId, entryId) =>
    call<AccessAnswer>("POST", entryUrl(journalId, entryId, "/access")),
  );

  /** The image's URL with `w`, `format` and `token`, in that order. */
  async function urlOf(record: ImageRecord, width: number | undefined, format: VariantFormat | undefined) {
    const query = new URLSearchParams();
    if (width !== undefined) query.set("w", String(width));
    if (format !== undefined) query.set("format", format);
    query.set("token", await tokens.get(record.journal_id, record.entry_id));
    return `${baseUrl}${record.url}?${query}`;
  }

  async function uploadDirect(
    journalId: string,
    entryId: string,
    file: Blob,
    upload: UploadOptions,
    report: (loaded: number) => void,
  ): Promise<ImageRecord> {
    const fields: [string, string][] = upload.name === undefined ? [] : [["name", upload.name]];
    const url = entryUrl(journalId, entryId, "/images");
    const answer = await sendForm(url, multipartBody(fields, file, fileNameOf(file) ?? FALLBACK_FILE_NAME), {
      headers: { authorization: await options.authorization() },
      onFileBytes: report,
      signal: upload.signal,
      fetch: fetchFn,
    });
    if (answer.status !== 200 && answer.status !== 201) throw errorFromAnswer(answer.status, answer.body);
    return JSON.parse(answer.body) as ImageRecord;
  }

  /**
   * Asks for a ticket, posts its form straight to storage (the fields as given, the file last), then
   * waits for the gateway's verdict on the stored bytes.
   */
  async function uploadPresigned(
    journalId: string,
    entryId: string,
    file: Blob,
    upload: UploadOptions,
    report: (loaded: number) => void,
  ): Promise<ImageRecord> {
    const { signal } = upload;
    const name = upload.name ?? withoutExtension(fileNameOf(file));
    const ticket = await call<UploadTicket>("POST", entryUrl(journalId, entryId, "/uploads"), {
      json: name === undefined ? { size: file.size } : { name, size: file.size },
      signal,
    });
    const form = multipartBody(
      Object.entries(ticket.upload.fields),
      file,
      fileNameOf(file) ?? FALLBACK_FILE_NAME,
    );
    const answer = await sendForm(ticket.upload.url, form, {
      headers: {},
      onFileBytes: report,
      signal,
      fetch: fetchFn,
    });
    if (answer.status < 200 || answer.status >= 300) throw storageRefusal(answer.status, answer.body);

    const statusUrl = entryUrl(journalId, entryId, `/uploads/${encodeURIComponent(ticket.id)}`);
    const started = Date.now();
    for (
      let wait = FIRST_POLL_MS;
      Date.now() - started < READY_TIMEOUT_MS;
      wait = Math.min(MAX_POLL_MS, wait * 1.5)
    ) {
      const status = await call<UploadStatus>("GET", statusUrl, { signal });
      if (status.status === "rejected") throw rejectionError(status.error);
      if (status.status === "ready") {
        if (status.image) return status.image;
        throw new ImageGatewayError(404, "not_found", "The image was deleted as soon as it was stored.");
      }
      await sleep(wait, signal);
    }
    throw new ImageGatewayError(
      504,
      "upload_timeout",
      `The gateway has not finished checking upload ${ticket.id}; ask GET …/uploads/${ticket.id} later.`,
    );
  }

  return {
    async upload(journalId, entryId, body, uploadOptions = {}) {
      const file = toBlob(body);
      const { onProgress } = uploadOptions;
      let reported = -1;
      const report = (loaded: number) => {
        if (loaded <= reported) return;
        reported = loaded;
        onProgress?.({ loaded, total: file.size });
      };
      const { maxDirectUploadBytes } = await gatewaySettings();
      const record =
        file.size <= maxDirectUploadBytes
          ? await uploadDirect(journalId, entryId, file, uploadOptions, report)
          : await uploadPresigned(journalId, entryId, file, uploadOptions, report);
      // Every byte was taken; a transport may not have said so for the last chunk.
      report(file.size);
      return record;
    },

    async list(journalId, entryId) {
      const { images } = await call<{ images: ImageRecord[] }>(
        "GET",
        entryUrl(journalId, entryId, "/images"),
      );
      return images;
    },

    get(journalId, entryId, imageId) {
      return call<ImageRecord>("GET", entryUrl(journalId, entryId, `/images/${encodeURIComponent(imageId)}`));
    },

    async delete(journalId, entryId, imageId) {
      await call("DELETE", entryUrl(journalId, entryId, `/images/${encodeURIComponent(imageId)}`));
    },

    async deleteAll(journalId, entryId) {
      await call("DELETE", entryUrl(journalId, entryId, "/images"));
    },

    async imageUrl(record, { width, format } = {}) {
      if (width !== undefined) {
        const { variantWidths } = await gatewaySettings();
        if (!variantWidths.includes(width)) {
          throw new ImageGatewayError(
            400,
            "invalid_variant",
            `The width must be one of ${variantWidths.join(", ")}.`,
          );
        }
      }
      return urlOf(record, width, format);
    },

    async srcset(record, { format } = {}) {
      const { variantWidths } = await gatewaySettings();
      const candidates = srcsetWidths(variantWidths, record.width);
      const urls = await Promise.all(candidates.map(({ ask }) => urlOf(record, ask, format)));
      return candidates.map(({ described }, index) => `${urls[index]} ${described}w`).join(", ");
    },
  };
}

/** S3's XML refusal of a form (`<Code>`, `<Message>`), read without a DOM so it works outside browsers. */
function storageRefusal(status: number, body: string): ImageGatewayError {
  const code = /<Code>([^<]*)<\/Code>/.exec(body)?.[1];
  const message = /<Message>([^<]*)<\/Message>/.exec(body)?.[1];
  return new ImageGatewayError(
    status,
    code === "EntityTooLarge" ? "too_large" : "upload_refused",
    `Storage refused the file${code ? ` (${code})` : ""}: ${message ?? `HTTP ${status}`}`,
  );
}

function toBlob(body: UploadBody): Blob {
  if (body instanceof Blob) return body;
  const bytes =
    body instanceof ArrayBuffer
      ? new Uint8Array(body)
      : new Uint8Array(body.buffer, body.byteOffset, body.byteLength);
  return new Blob([bytes as Uint8Array<ArrayBuffer>]);
}

/** A `File`'s name; bytes and bare blobs have none. */
function fileNameOf(file: Blob): string | undefined {
  return typeof File === "function" && file instanceof File && file.name ? file.name : undefined;
}

function withoutExtension(name: string | undefined): string | undefined {
  return name?.replace(/\.[^.]*$/, "") || undefined;
}

function sleep(ms: number, signal: AbortSignal | undefined): Promise<void> {
  return new Promise((resolve, reject) => {
    signal?.throwIfAborted();
    const timer = setTimeout(() => {
      signal?.removeEventListener("abort", onAbort);
      resolve();
    }, ms);
    const onAbort = () => {
      clearTimeout(timer);
      reject(signal?.reason);
    };
    signal?.addEventListener("abort", onAbort, { once: true });
  });
}
