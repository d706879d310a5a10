import busboy from "busboy";
import { BadRequestError } from "../../contract/errors";
import { MULTIPART_OVERHEAD_BYTES } from "../domain/constants";
import { EmptyFileError, type PayloadTooLargeError } from "../domain/errors";
import { imageName } from "../domain/names";
import { readLimitedBody } from "./requestBody";

/** A direct upload as the form carried it, checked for shape and size but not yet for type. */
export interface UploadForm {
  readonly bytes: Uint8Array;
  /** Sanitized, never empty. */
  readonly name: string;
}

export interface UploadFormLimits {
  /** Largest file part accepted. */
  readonly maxFileBytes: number;
  /** The `413` to answer when the body or the file is larger. */
  readonly tooLarge: () => PayloadTooLargeError;
}

/** One part of a form: a file when it named a file name, text otherwise (as `FormData` reads them). */
type FormPart =
  | { readonly name: string; readonly filename: string; readonly bytes: Buffer }
  | { readonly name: string; readonly filename?: undefined; readonly value: string };

const MULTIPART = /^multipart\/form-data\s*;/i;

/**
 * Reads a direct upload: `multipart/form-data` with exactly one file part named `file` and at most one
 * text part `name`. A body that declares or turns out to be larger than the file limit plus multipart
 * overhead is refused before it is parsed. The body arrives whole (the ALB passes it in one piece), so
 * it is parsed in place by busboy: the file's bytes are a view of the body, never copied again.
 *
 * @throws {BadRequestError} `invalid_upload` for another shape, `empty_file` for an empty file
 * @throws {PayloadTooLargeError} `too_large`
 */
export async function readUploadForm(request: Request, limits: UploadFormLimits): Promise<UploadForm> {
  const contentType = request.headers.get("content-type") ?? "";
  if (!MULTIPART.test(contentType) || !request.body) {
    throw invalid("A direct upload is multipart/form-data with one file part named file.");
  }
  const body = await readLimitedBody(request, limits.maxFileBytes + MULTIPART_OVERHEAD_BYTES, {
    tooLarge: limits.tooLarge,
    unreadable: () => invalid("The multipart body could not be read."),
  });
  let parts: FormPart[];
  try {
    parts = await parseForm(body, contentType);
  } catch {
    throw invalid("The multipart body could not be read.");
  }

  const files = parts.filter((part) => part.name === "file");
  if (files.length !== 1) {
    throw invalid(`A direct upload needs exactly one file part named file, not ${files.length}.`);
  }
  const [file] = files;
  if (file?.filename === undefined) throw invalid("The part named file must be a file.");
  const names = parts.filter((part) => part.name === "name");
  const [namePart] = names;
  if (names.length > 1 || (namePart !== undefined && namePart.filename !== undefined)) {
    throw invalid("The name part, if sent, must be a single text part.");
  }
  if (file.bytes.byteLength === 0) throw new EmptyFileError();
  if (file.bytes.byteLength > limits.maxFileBytes) throw limits.tooLarge();
  const bytes = new Uint8Array(file.bytes.buffer, file.bytes.byteOffset, file.bytes.byteLength);
  return { bytes, name: imageName(namePart?.value, file.filename) };
}

/**
 * The parts of a whole multipart body, in order, as `FormData` would read them: a part is a file when
 * its Content-Disposition names a file name (busboy alone would also take any `application/octet-stream`
 * part for one), names and file names are UTF-8, and no size limit but the body's applies.
 *
 * @throws when the body is not well-formed multipart
 */
function parseForm(body: Buffer, contentType: string): Promise<FormPart[]> {
  return new Promise((resolve, reject) => {
    const unlimited = body.byteLength + 1;
    const parser = busboy({
      headers: { "content-type": contentType },
      defParamCharset: "utf8",
      limits: { fieldNameSize: unlimited, fieldSize: unlimited },
    });
    const parts: FormPart[] = [];
    parser.on("file", (name, stream, info) => {
      const chunks: Buffer[] = [];
      // A form cut short fails the part under way as well as the parser.
      stream.on("error", reject);
      stream.on("data", (chunk: Buffer) => chunks.push(chunk));
      stream.on("end", () => {
        const bytes = chunks.length === 1 ? (chunks[0] as Buffer) : Buffer.concat(chunks);
        parts.push(
          info.filename === undefined
            ? { name, value: bytes.toString("utf8") }
            : { name, filename: info.filename, bytes },
        );
      });
    });
    parser.on("field", (name, value) => parts.push({ name, value }));
    parser.on("error", reject);
    parser.on("close", () => resolve(parts));
    parser.end(body);
  });
}

function invalid(message: string): BadRequestError {
  return new BadRequestError("invalid_upload", message);
}
