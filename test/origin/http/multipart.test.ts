import { describe, expect, it } from "vitest";
import { HttpError } from "../../../contract/errors";
import { MULTIPART_OVERHEAD_BYTES } from "../../../origin/domain/constants";
import { PayloadTooLargeError } from "../../../origin/domain/errors";
import { readUploadForm } from "../../../origin/http/multipart";
import { allBytesPng, pngBytes } from "../../support/images";

const MAX_FILE_BYTES = 4096;
const TOO_LARGE = new PayloadTooLargeError("Use /uploads.");
const LIMITS = { maxFileBytes: MAX_FILE_BYTES, tooLarge: () => TOO_LARGE };

/** A POST of `form` as the platform encodes it (its own boundary and Content-Type). */
function posted(form: FormData): Request {
  return new Request("http://origin/upload", { method: "POST", body: form });
}

/** A POST of a hand-written body with `contentType`. */
function raw(body: BodyInit | null, contentType?: string): Request {
  return new Request("http://origin/upload", {
    method: "POST",
    body,
    headers: contentType === undefined ? {} : { "content-type": contentType },
  });
}

/** A form of `parts`, in order. */
function formOf(...parts: [string, string | File][]): FormData {
  const form = new FormData();
  for (const [name, value] of parts) form.append(name, value);
  return form;
}

function file(bytes: Uint8Array<ArrayBuffer> = pngBytes(2, 2), name = "harbour.png"): File {
  return new File([bytes], name, { type: "image/png" });
}

/** What reading `request` threw, as status and code. */
async function refusalOf(request: Request): Promise<unknown> {
  try {
    await readUploadForm(request, LIMITS);
  } catch (error) {
    return error instanceof HttpError ? { status: error.status, code: error.code } : error;
  }
  throw new Error("the form was accepted");
}

describe("readUploadForm", () => {
  it("answers the file's bytes exactly, every byte value intact", async () => {
    // Prepare
    const bytes = allBytesPng();

    // Act
    const form = await readUploadForm(posted(formOf(["file", file(bytes)])), LIMITS);

    // Assess
    expect(form.bytes).toEqual(bytes);
  });

  it.each([
    ["the name part", [["name", "  Harbour at dusk "]], "harbour.png", "Harbour at dusk"],
    ["the file name without its extension, with no name part", [], "harbour.final.png", "harbour.final"],
    ["the file name when the name part is blank", [["name", " \u0000 "]], "harbour.png", "harbour"],
    ["the fallback when neither gives a name", [], ".png", "image"],
  ] as const)("names the image from %s", async (_what, nameParts, fileName, name) => {
    // Prepare
    const form = formOf(
      ["file", file(pngBytes(2, 2), fileName)],
      ...nameParts.map(([k, v]) => [k, v] as [string, string]),
    );

    // Act
    const upload = await readUploadForm(posted(form), LIMITS);

    // Assess
    expect(upload.name).toBe(name);
  });

  it.each([
    ["a part named File", () => posted(formOf(["File", file()]))],
    ["a part named files", () => posted(formOf(["files", file()]))],
    ["two file parts", () => posted(formOf(["file", file()], ["file", file()]))],
    ["a text part named file", () => posted(formOf(["file", "iVBORw0KGgo="]))],
    ["two name parts", () => posted(formOf(["file", file()], ["name", "a"], ["name", "b"]))],
    ["a file part named name", () => posted(formOf(["file", file()], ["name", file()]))],
    ["a JSON body", () => raw('{"file":"x"}', "application/json")],
    ["multipart/mixed", () => raw("--b\r\n\r\n--b--\r\n", "multipart/mixed; boundary=b")],
    ["multipart/form-data without parameters", () => raw("--b--\r\n", "multipart/form-data")],
    ["no Content-Type", () => raw("--b--\r\n")],
    ["no body", () => raw(null, "multipart/form-data; boundary=b")],
    [
      "an unterminated part",
      () =>
        raw(
          '--b\r\nContent-Disposition: form-data; name="file"; filename="a.png"\r\n\r\nunterminated',
          "multipart/form-data; boundary=b",
        ),
    ],
  ])("refuses %s with 400 invalid_upload", async (_what, request) => {
    expect(await refusalOf(request())).toEqual({ status: 400, code: "invalid_upload" });
  });

  it("reads a part without a file name as text, whatever its Content-Type, as FormData does", async () => {
    // Prepare: busboy alone takes any application/octet-stream part for a file
    const body = [
      '--b\r\nContent-Disposition: form-data; name="name"\r\nContent-Type: application/octet-stream\r\n\r\nHarbour',
      '--b\r\nContent-Disposition: form-data; name="file"; filename="a.png"\r\nContent-Type: image/png\r\n\r\n',
    ].join("\r\n");
    const request = raw(
      Buffer.concat([Buffer.from(body), pngBytes(2, 2), Buffer.from("\r\n--b--\r\n")]),
      "multipart/form-data; boundary=b",
    );

    // Act
    const upload = await readUploadForm(request, LIMITS);

    // Assess
    expect(upload.name).toBe("Harbour");
    expect(upload.bytes).toEqual(pngBytes(2, 2));
  });

  it("reads a file name in UTF-8, as browsers send it", async () => {
    // Act
    const upload = await readUploadForm(
      posted(formOf(["file", file(pngBytes(2, 2), "Møllehøj façade.png")])),
      LIMITS,
    );

    // Assess
    expect(upload.name).toBe("Møllehøj façade");
  });

  it("reads a Content-Type in upper case", async () => {
    // Prepare
    const encoded = posted(formOf(["file", file()]));
    const type = encoded.headers.get("content-type") ?? "";
    const request = raw(
      await encoded.arrayBuffer(),
      type.replace("multipart/form-data", "MULTIPART/FORM-DATA"),
    );

    // Act
    const upload = await readUploadForm(request, LIMITS);

    // Assess
    expect(upload.bytes).toEqual(pngBytes(2, 2));
  });

  it("refuses an empty file with 400 empty_file", async () => {
    expect(await refusalOf(posted(formOf(["file", file(new Uint8Array())])))).toEqual({
      status: 400,
      code: "empty_file",
    });
  });

  it.each([
    [MAX_FILE_BYTES, "accepted"],
    [MAX_FILE_BYTES + 1, "too_large"],
  ])("judges a file of %i bytes %s", async (size, outcome) => {
    // Prepare
    const bytes = new Uint8Array(size);
    bytes.set(pngBytes(2, 2));
    const request = posted(formOf(["file", file(bytes)]));

    // Act
    const read = readUploadForm(request, LIMITS).then(
      (upload) => upload.bytes.byteLength,
      (error: unknown) => error,
    );

    // Assess
    if (outcome === "accepted") expect(await read).toBe(size);
    else expect(await read).toBe(TOO_LARGE);
  });

  it("refuses a body declared larger than the file limit and the multipart overhead, unread", async () => {
    // Prepare: a body that never ends, so only the declared length can answer
    const endless = new ReadableStream<Uint8Array>({ pull: () => new Promise(() => undefined) });
    const request = new Request("http://origin/upload", {
      method: "POST",
      body: endless,
      duplex: "half",
      headers: {
        "content-type": "multipart/form-data; boundary=b",
        "content-length": String(MAX_FILE_BYTES + MULTIPART_OVERHEAD_BYTES + 1),
      },
    } as RequestInit);

    // Act
    const outcome = await readUploadForm(request, LIMITS).catch((error: unknown) => error);

    // Assess
    expect(outcome).toBe(TOO_LARGE);
  });

  it("refuses a body that outgrows the limit without declaring its length as too_large, not invalid", async () => {
    // Prepare: one part that goes on past the file limit and the overhead, streamed
    const head = new TextEncoder().encode(
      '--b\r\nContent-Disposition: form-data; name="file"; filename="a"\r\n\r\n',
    );
    let sent = 0;
    const body = new ReadableStream<Uint8Array>({
      pull: (controller) => {
        sent += 1;
        if (sent === 1) controller.enqueue(head);
        else if (sent > 40) controller.close();
        else controller.enqueue(new Uint8Array(1024));
      },
    });
    const request = new Request("http://origin/upload", {
      method: "POST",
      body,
      duplex: "half",
      headers: { "content-type": "multipart/form-data; boundary=b" },
    } as RequestInit);

    // Act
    const outcome = await readUploadForm(request, LIMITS).catch((error: unknown) => error);

    // Assess
    expect(outcome).toBe(TOO_LARGE);
  });
});
