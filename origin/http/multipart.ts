import { BadRequestError } from "../../contract/errors";
import { MULTIPART_OVERHEAD_BYTES } from "../domain/constants";
import { EmptyFileError, type PayloadTooLargeError } from "../domain/errors";
import { imageName } from "../domain/names";
import { limitedBody } from "./requestBody";

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

const MULTIPART = /^multipart\/form-data\s*;/i;

/**
 * Reads a direct upload: `multipart/form-data` with exactly one file part named `file` and at most one
 * text part `name`. A body that declares or turns out to be larger than the file limit plus multipart
 * overhead is refused before it is parsed; parsing itself is the platform's (binary-safe) `FormData`.
 *
 * @throws {BadRequestError} `invalid_upload` for another shape, `empty_file` for an empty file
 * @throws {PayloadTooLargeError} `too_large`
 */
export async function readUploadForm(request: Request, limits: UploadFormLimits): Promise<UploadForm> {
  const contentType = request.headers.get("content-type") ?? "";
  if (!MULTIPART.test(contentType) || !request.body) {
    throw invalid("A direct upload is multipart/form-data with one file part named file.");
  }
  const body = limitedBody(request, limits.maxFileBytes + MULTIPART_OVERHEAD_BYTES, limits.tooLarge);
  let form: FormData;
  try {
    form = await new Response(body.stream, { headers: { "content-type": contentType } }).formData();
  } catch {
    if (body.exceeded()) throw limits.tooLarge();
    throw invalid("The multipart body could not be read.");
  }

  const files = form.getAll("file");
  if (files.length !== 1) {
    throw invalid(`A direct upload needs exactly one file part named file, not ${files.length}.`);
  }
  const [file] = files;
  if (!(file instanceof File)) throw invalid("The part named file must be a file.");
  const names = form.getAll("name");
  const [namePart] = names;
  if (names.length > 1 || (namePart !== undefined && typeof namePart !== "string")) {
    throw invalid("The name part, if sent, must be a single text part.");
  }
  if (file.size === 0) throw new EmptyFileError();
  if (file.size > limits.maxFileBytes) throw limits.tooLarge();

  return { bytes: new Uint8Array(await file.arrayBuffer()), name: imageName(namePart, file.name) };
}

function invalid(message: string): BadRequestError {
  return new BadRequestError("invalid_upload", message);
}
