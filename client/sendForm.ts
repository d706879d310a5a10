import { ImageGatewayError } from "./ImageGatewayError.ts";
import type { MultipartBody } from "./multipart.ts";

/** A form POST's answer, read whole: the gateway's JSON or S3's XML. */
export interface FormAnswer {
  readonly status: number;
  readonly body: string;
}

/** Progress granularity, and the most of the file held in memory at once outside browsers. */
const CHUNK_BYTES = 16 * 1024;

export interface SendFormOptions {
  readonly headers: Readonly<Record<string, string>>;
  /** Bytes of the file (not of the form around it) sent so far. */
  readonly onFileBytes: (loaded: number) => void;
  readonly signal: AbortSignal | undefined;
  readonly fetch: typeof fetch;
}

/**
 * POSTs a multipart body with upload progress: by `XMLHttpRequest` where there is one (browsers: the only
 * API there that reports request-body progress), else by `fetch` with a body stream that counts the
 * file's chunks as the connection pulls them (Node 20+, Deno, workers).
 *
 * @throws {ImageGatewayError} `network_error` when no answer arrived
 * @throws the signal's reason once aborted
 */
export function sendForm(url: string, form: MultipartBody, options: SendFormOptions): Promise<FormAnswer> {
  options.signal?.throwIfAborted();
  return typeof XMLHttpRequest === "function"
    ? sendByXhr(url, form, options)
    : sendByFetch(url, form, options);
}

function sendByXhr(url: string, form: MultipartBody, options: SendFormOptions): Promise<FormAnswer> {
  const { signal } = options;
  return new Promise((resolve, reject) => {
    const xhr = new XMLHttpRequest();
    const abort = () => xhr.abort();
    const settle = () => signal?.removeEventListener("abort", abort);
    xhr.open("POST", url);
    for (const [name, value] of Object.entries(options.headers)) xhr.setRequestHeader(name, value);
    xhr.setRequestHeader("content-type", form.contentType);
    // Progress counts the whole body; the file's bytes are those past the head.
    xhr.upload.onprogress = (event) =>
      options.onFileBytes(Math.min(form.file.size, Math.max(0, event.loaded - form.head.byteLength)));
    xhr.onload = () => {
      settle();
      resolve({ status: xhr.status, body: xhr.responseText });
    };
    xhr.onerror = () => {
      settle();
      reject(networkError(url));
    };
    xhr.onabort = () => {
      settle();
      reject(signal?.reason);
    };
    signal?.addEventListener("abort", abort, { once: true });
    xhr.send(
      new Blob([form.head as Uint8Array<ArrayBuffer>, form.file, form.tail as Uint8Array<ArrayBuffer>]),
    );
  });
}

async function sendByFetch(url: string, form: MultipartBody, options: SendFormOptions): Promise<FormAnswer> {
  let offset = 0;
  const body = new ReadableStream<Uint8Array>(
    {
      start(controller) {
        controller.enqueue(form.head);
      },
      // The file is read in slices of its own: a Blob's stream may hand over everything in one chunk.
      async pull(controller) {
        if (offset >= form.file.size) {
          controller.enqueue(form.tail);
          controller.close();
          return;
        }
        const chunk = new Uint8Array(await form.file.slice(offset, offset + CHUNK_BYTES).arrayBuffer());
        offset += chunk.byteLength;
        controller.enqueue(chunk);
        options.onFileBytes(offset);
      },
    },
    // Pull only when the connection asks for more, so what is counted is what the socket took.
    { highWaterMark: 0 },
  );
  try {
    const response = await options.fetch(url, {
      method: "POST",
      headers: {
        ...options.headers,
        "content-type": form.contentType,
        "content-length": String(form.length),
      },
      body,
      signal: options.signal,
      // @ts-expect-error: a streamed request body needs `duplex`, which the DOM's RequestInit lacks.
      duplex: "half",
    });
    return { status: response.status, body: await response.text() };
  } catch (error) {
    if (options.signal?.aborted) throw options.signal.reason;
    throw networkError(url, error);
  }
}

/** No answer; the URL's host only, since a full URL may carry a signed form's or a token's values. */
export function networkError(url: string, cause?: unknown): ImageGatewayError {
  const host = new URL(url, globalThis.location?.href ?? "http://localhost/").host;
  return new ImageGatewayError(0, "network_error", `${host} could not be reached.`, { cause });
}
