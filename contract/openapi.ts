import { ID_PATTERN, IMAGE_ID_PATTERN, TOKEN_COOKIE, TOKEN_QUERY_PARAMETER } from "./constants";
import { type Operation, ROUTES, type RouteCredential, type RouteSpec } from "./routes";
import { VARIANT_FORMATS } from "./variants";

/** The deployment's values the document states: the same ones the gateway enforces. */
export interface OpenApiSettings {
  readonly maxDirectUploadBytes: number;
  readonly maxImageBytes: number;
  readonly variantWidths: readonly number[];
  /** The content types images are stored as. */
  readonly imageContentTypes: readonly string[];
}

/** Where the origin serves the document; the edge lets it through without a credential, like health. */
export const OPENAPI_PATH = "/api/openapi.json";
/**
 * The document's root extension holding the limits a client needs (the direct limit decides the upload
 * route, the widths make `srcset`s), so clients read them from the gateway instead of copying them.
 */
export const SETTINGS_EXTENSION = "x-image-gateway";

type Schema = Record<string, unknown>;

const ref = (kind: string, name: string) => ({ $ref: `#/components/${kind}/${name}` });
const json = (schema: Schema) => ({ "application/json": { schema } });
const noStore = { "Cache-Control": ref("headers", "NoStore") };

/**
 * The error responses, by component name: status, the codes the gateway answers it with, and why.
 * The codes are enumerated, so a code the code base invents without the document fails the drift test.
 */
const ERRORS = {
  BadRequest: {
    status: 400,
    codes: ["invalid_id", "invalid_upload", "empty_file", "invalid_variant", "ambiguous_credentials"],
    description:
      "An id that does not match its pattern (`invalid_id`, before any network call), a body of another " +
      "shape (`invalid_upload`), an empty file (`empty_file`), a width not in the variant widths " +
      "(`invalid_variant`), or more than one credential of a kind (`ambiguous_credentials`).",
  },
  Unauthorized: {
    status: 401,
    codes: ["missing_credentials", "unauthorized", "invalid_token", "token_expired", "invalid_grant"],
    description:
      "No credential, a credential the journals API refused (`unauthorized`), or an access token that is " +
      "not valid or has expired.",
  },
  Forbidden: {
    status: 403,
    codes: ["forbidden", "cors_origin_not_allowed"],
    description:
      "The journals API answered 403 or 404 for this entry, or the access token is for another entry.",
  },
  NotFound: { status: 404, codes: ["not_found"], description: "No such image, upload or route." },
  MethodNotAllowed: {
    status: 405,
    codes: ["method_not_allowed"],
    description: "The path exists; the method does not. `Allow` lists those that do.",
  },
  PreconditionFailed: { status: 412, codes: ["precondition_failed"], description: "A precondition failed." },
  TooLarge: {
    status: 413,
    codes: ["too_large"],
    description:
      "Above the direct limit (the message points to `…/uploads`), or above the largest image the gateway " +
      "stores. Answered before the body is read, and the connection is kept: the client gets it whole.",
  },
  RangeNotSatisfiable: {
    status: 416,
    codes: ["range_not_satisfiable"],
    description: "The `Range` lies outside the image.",
  },
  UnsupportedType: {
    status: 415,
    codes: ["unsupported_type"],
    description:
      "The bytes are not PNG, JPEG, GIF, WebP or AVIF (the type comes from the bytes, never the name).",
  },
  InvalidImage: {
    status: 422,
    codes: ["invalid_image"],
    description: "The bytes do not decode as the image they claim to be, or hold too many pixels.",
  },
  InternalError: { status: 500, codes: ["internal_error"], description: "The gateway could not answer." },
  BadGateway: {
    status: 502,
    codes: ["journals_unavailable", "metadata_unavailable", "storage_unavailable"],
    description:
      "The journals API, the metadata store or the image store failed; nothing was allowed on doubt.",
  },
  ServiceUnavailable: {
    status: 503,
    codes: ["gateway_unavailable"],
    description: "The gateway is starting (its keys are not loaded yet); try again.",
  },
  GatewayTimeout: {
    status: 504,
    codes: ["journals_timeout"],
    description: "The journals API did not answer within `JOURNALS_TIMEOUT_MS`.",
  },
} as const;

type ErrorName = keyof typeof ERRORS;

/** What can go wrong on any request the edge checks. */
const EDGE_ERRORS: readonly ErrorName[] = [
  "BadRequest",
  "Unauthorized",
  "Forbidden",
  "MethodNotAllowed",
  "InternalError",
  "BadGateway",
  "ServiceUnavailable",
  "GatewayTimeout",
];

function errorResponses(names: readonly ErrorName[]): Record<string, unknown> {
  return Object.fromEntries(names.map((name) => [String(ERRORS[name].status), ref("responses", name)]));
}

/** `OPTIONS` on a path: the edge answers CORS preflights itself, before any route or credential. */
function preflight(operationId: string): Schema {
  return {
    operationId,
    summary: "CORS preflight",
    description:
      "A preflight from an origin in `CORS_ALLOWED_ORIGINS` gets the CORS grant; from any other origin " +
      "`403 cors_origin_not_allowed`; a plain `OPTIONS` (no `Origin`) just `Allow`.",
    security: [],
    parameters: [{ name: "Origin", in: "header", required: false, schema: { type: "string" } }],
    responses: {
      "204": {
        description: "The CORS grant, or the allowed methods.",
        headers: {
          ...noStore,
          Allow: { schema: { type: "string" } },
          "Access-Control-Allow-Origin": { schema: { type: "string" } },
          "Access-Control-Allow-Methods": { schema: { type: "string" } },
          "Access-Control-Allow-Headers": { schema: { type: "string" } },
          "Access-Control-Max-Age": { schema: { type: "string", pattern: "^[0-9]+$" } },
        },
      },
      "403": ref("responses", "Forbidden"),
    },
  };
}

const DOCUMENT_SCHEMA: Schema = {
  type: "object",
  required: ["openapi", "info", "paths", SETTINGS_EXTENSION],
  properties: { openapi: { const: "3.1.0" }, [SETTINGS_EXTENSION]: ref("schemas", "GatewaySettings") },
};

/** What the route table does not say about an operation: its answers, its body, its other parameters. */
interface OperationDoc {
  readonly description?: string;
  /** The answers other than errors, by status. */
  readonly responses: Readonly<Record<string, Schema>>;
  readonly requestBody?: Schema;
  readonly parameters?: readonly Schema[];
  /** Errors beyond those any route of its credential kind may answer. */
  readonly errors?: readonly ErrorName[];
}

/** Who may call, by the route table's credential kind: any of the three, the app's own, or anyone. */
const SECURITY: Readonly<Record<RouteCredential, readonly Record<string, []>[]>> = {
  viewer: [{ accessToken: [] }, { accessTokenCookie: [] }, { appAuthorization: [] }],
  authorization: [{ appAuthorization: [] }],
  none: [],
};

/** The path parameters of the route table's templates, each with its pattern. */
const PATH_PARAMETERS: Readonly<Record<string, { schema: string; description: string }>> = {
  journalId: { schema: "EntityId", description: "The journal." },
  entryId: { schema: "EntityId", description: "The entry of the journal." },
  imageId: { schema: "ImageId", description: "The image, as the gateway named it." },
  uploadId: { schema: "ImageId", description: "The presigned upload (not the image it becomes)." },
};

/**
 * One operation of the document: what the route table says (its name, summary and credential) and what
 * the docs add. `HEAD` is `GET` without bodies.
 */
function operationOf(spec: RouteSpec, method: string, doc: OperationDoc): Schema {
  const head = method === "HEAD";
  const answers = Object.fromEntries(
    Object.entries(doc.responses).map(([status, answer]) => {
      const { content: _content, ...withoutBody } = answer;
      return [status, head ? withoutBody : answer];
    }),
  );
  const common: readonly ErrorName[] =
    spec.credential === "none" ? ["MethodNotAllowed", "ServiceUnavailable"] : EDGE_ERRORS;
  return {
    operationId: head ? `${spec.operation}Head` : spec.operation,
    summary: head ? `${spec.summary} Headers only.` : spec.summary,
    ...(doc.description ? { description: doc.description } : {}),
    security: SECURITY[spec.credential],
    ...(doc.parameters ? { parameters: doc.parameters } : {}),
    ...(doc.requestBody ? { requestBody: doc.requestBody } : {}),
    responses: { ...answers, ...errorResponses([...new Set([...common, ...(doc.errors ?? [])])]) },
  };
}

/** Every path of the route table with its operations, and `OPTIONS` (answered by the edge) on each. */
function pathsOf(docs: Readonly<Record<Operation, OperationDoc>>): Record<string, Schema> {
  const paths: Record<string, Schema> = {};
  for (const spec of ROUTES as readonly (RouteSpec & { operation: Operation })[]) {
    const parameters = [...spec.path.matchAll(/\{(\w+)\}/g)].map(([, name]) => ref("parameters", name ?? ""));
    paths[spec.path] ??= {
      ...(parameters.length > 0 ? { parameters } : {}),
      options: preflight(`preflight${spec.operation[0]?.toUpperCase()}${spec.operation.slice(1)}`),
    };
    const item = paths[spec.path] as Schema;
    for (const method of spec.methods)
      item[method.toLowerCase()] = operationOf(spec, method, docs[spec.operation]);
  }
  return paths;
}

/** The answers, bodies and parameters of every operation in the route table, for these settings. */
function operationDocs(settings: OpenApiSettings): Record<Operation, OperationDoc> {
  const imageHeaders = {
    ETag: { schema: { type: "string" } },
    "Cache-Control": {
      description: "Private, never longer than an access token lives.",
      schema: { type: "string", pattern: "^private, max-age=[0-9]+$" },
    },
    "Content-Security-Policy": { required: true, schema: { type: "string" } },
    "X-Content-Type-Options": { required: true, schema: { const: "nosniff" } },
    Vary: { description: "`Accept` for variants, whose format follows it.", schema: { type: "string" } },
  };
  const imageContent = Object.fromEntries(
    settings.imageContentTypes.map((type) => [type, { schema: { type: "string", contentMediaType: type } }]),
  );
  const jsonAnswer = (description: string, schema: string) => ({
    description,
    headers: noStore,
    content: json(ref("schemas", schema)),
  });
  const emptyAnswer = (description: string) => ({ description, headers: noStore });
  return {
    readImage: {
      description:
        "Read straight from the CDN's cache or the private bucket once the edge has checked the credential: " +
        "an access token (`?token=` or the `image_token` cookie) costs no network call. `ETag`, `Range` and " +
        "`If-None-Match` behave as S3's.",
      parameters: [
        ref("parameters", "w"),
        ref("parameters", "format"),
        { name: "Range", in: "header", required: false, schema: { type: "string" } },
        { name: "If-None-Match", in: "header", required: false, schema: { type: "string" } },
      ],
      responses: {
        "200": {
          description: "The image (or the variant) bytes.",
          headers: imageHeaders,
          content: imageContent,
        },
        "206": {
          description: "The requested `Range` of the bytes.",
          headers: { ...imageHeaders, "Content-Range": { required: true, schema: { type: "string" } } },
          content: imageContent,
        },
        "304": {
          description: "The `If-None-Match` ETag still matches.",
          headers: { ETag: imageHeaders.ETag },
        },
      },
      errors: ["NotFound", "PreconditionFailed", "RangeNotSatisfiable"],
    },
    createAccessToken: {
      description: "Answered by the edge itself once the journals API allowed the credential.",
      responses: {
        "200": {
          description:
            "A token that opens this entry's images (and their variants) for reading, and nothing else.",
          headers: {
            ...noStore,
            "Set-Cookie": {
              required: true,
              description:
                "`image_token={token}; Path=/journals/{j}/entries/{e}/; Max-Age={ttl}; HttpOnly; Secure; SameSite=None`",
              schema: { type: "string", pattern: `^${TOKEN_COOKIE}=` },
            },
          },
          content: json(ref("schemas", "AccessToken")),
        },
      },
    },
    listImages: { responses: { "200": jsonAnswer("Every image of the entry.", "ImageList") } },
    uploadImage: {
      description:
        `Exactly one file part named \`file\` of at most ${settings.maxDirectUploadBytes} bytes ` +
        "(`max_direct_upload_bytes`; larger files go by `…/uploads`), and an optional text part `name` " +
        "(else the file's name without its extension). The object is written before its record and " +
        "removed again if the record fails.",
      requestBody: {
        required: true,
        content: {
          "multipart/form-data": {
            schema: ref("schemas", "DirectUpload"),
            encoding: { file: { contentType: settings.imageContentTypes.join(", ") } },
          },
        },
      },
      responses: {
        "201": jsonAnswer("Stored.", "ImageRecord"),
        "200": jsonAnswer(
          "The entry already holds these bytes: the existing record, no second copy.",
          "ImageRecord",
        ),
      },
      errors: ["TooLarge", "UnsupportedType", "InvalidImage"],
    },
    deleteEntryImages: { responses: { "204": emptyAnswer("Deleted, or there was nothing to delete.") } },
    getImage: { responses: { "200": jsonAnswer("The record.", "ImageRecord") }, errors: ["NotFound"] },
    deleteImage: {
      responses: { "204": emptyAnswer("Deleted, with its variants; a CDN invalidation follows.") },
      errors: ["NotFound"],
    },
    createUpload: {
      requestBody: { required: true, content: json(ref("schemas", "UploadRequest")) },
      responses: {
        "201": jsonAnswer(
          "POST every field of `upload.fields`, in order, then the file last as the part `file`, as " +
            "`multipart/form-data` to `upload.url` before `expires_at`; then poll `…/uploads/{id}`.",
          "UploadTicket",
        ),
      },
      errors: ["TooLarge"],
    },
    getUpload: {
      responses: {
        "200": jsonAnswer(
          "Pending until the stored bytes are judged, then ready or rejected.",
          "UploadStatus",
        ),
      },
      errors: ["NotFound"],
    },
    health: { responses: { "200": jsonAnswer("Up.", "Health") } },
    openApiDocument: {
      responses: {
        "200": {
          description: `The contract, with this deployment's limits under \`${SETTINGS_EXTENSION}\`.`,
          headers: noStore,
          content: json(DOCUMENT_SCHEMA),
        },
      },
    },
  };
}

/**
 * The OpenAPI 3.1 description of the whole HTTP contract (shared/ARCHITECTURE.md), built from the route
 * table (`ROUTES`: paths, methods, names, summaries, credentials) and the docs above (answers, bodies,
 * errors), with this deployment's limits.
 * Served at `GET /api/openapi.json`; a test checks real answers of a full flow against it.
 */
export function openApiDocument(settings: OpenApiSettings): Schema {
  const widths = [...settings.variantWidths].sort((a, b) => a - b);
  return {
    openapi: "3.1.0",
    info: {
      title: "Image gateway",
      version: "1",
      summary: "Private images of journal entries, delivered from a CDN.",
      description:
        "Images belong to an entry of a journal; the notes app's own journals API decides who may open an " +
        "entry, and the gateway enforces exactly that at the edge. Every error is " +
        '`{"error": {"code", "message"}}` with `Cache-Control: no-store`. Another method on a path below ' +
        "is `405 method_not_allowed` (with `Allow`), any other path `404 not_found`.",
    },
    servers: [{ url: "/", description: "The gateway that served this document." }],
    [SETTINGS_EXTENSION]: {
      max_direct_upload_bytes: settings.maxDirectUploadBytes,
      max_image_bytes: settings.maxImageBytes,
      variant_widths: widths,
    },
    security: [{ appAuthorization: [] }],
    paths: pathsOf(operationDocs(settings)),
    components: {
      securitySchemes: {
        accessToken: {
          type: "apiKey",
          in: "query",
          name: TOKEN_QUERY_PARAMETER,
          description:
            "An access token from `POST …/access`: opens image reads of its one entry, nothing else. Of the " +
            "three credentials the first present decides, in this order: `?token=`, the cookie, `Authorization`.",
        },
        accessTokenCookie: {
          type: "apiKey",
          in: "cookie",
          name: TOKEN_COOKIE,
          description: "The same access token, as `POST …/access` sets it for the entry's image path.",
        },
        appAuthorization: {
          type: "apiKey",
          in: "header",
          name: "Authorization",
          description:
            "The notes app's own credential, passed verbatim to `GET {JOURNALS_API_URL}/journals/{j}/entries/{e}`; " +
            "a 2xx answer opens the entry. Every `/api/*` route but health and this document needs it.",
        },
      },
      parameters: {
        ...Object.fromEntries(
          Object.entries(PATH_PARAMETERS).map(([name, { schema, description }]) => [
            name,
            { name, in: "path", required: true, description, schema: ref("schemas", schema) },
          ]),
        ),
        w: {
          name: "w",
          in: "query",
          required: false,
          description:
            "A variant this wide (height in proportion), made once and then served like the original; never " +
            "upscaled. Any other value is `400 invalid_variant`.",
          schema: { type: "integer", enum: widths },
        },
        format: {
          name: "format",
          in: "query",
          required: false,
          description:
            "The variant's format, only with `w`; without it `Accept` decides (`image/avif`, else " +
            "`image/webp`, else the original's).",
          schema: { type: "string", enum: [...VARIANT_FORMATS] },
        },
      },
      headers: {
        NoStore: { required: true, schema: { const: "no-store" } },
      },
      responses: Object.fromEntries(
        Object.entries(ERRORS).map(([name, { codes, description }]) => [
          name,
          {
            description,
            headers: {
              ...noStore,
              ...(name === "MethodNotAllowed"
                ? { Allow: { required: true, schema: { type: "string" } } }
                : {}),
            },
            content: json({
              allOf: [
                ref("schemas", "Error"),
                { properties: { error: { properties: { code: { enum: [...codes] } } } } },
              ],
            }),
          },
        ]),
      ),
      schemas: {
        EntityId: { type: "string", pattern: ID_PATTERN.source },
        ImageId: {
          type: "string",
          pattern: IMAGE_ID_PATTERN.source,
          description: "A lower-case UUID the gateway assigns.",
        },
        Error: {
          type: "object",
          required: ["error"],
          additionalProperties: false,
          properties: {
            error: {
              type: "object",
              required: ["code", "message"],
              additionalProperties: false,
              properties: {
                code: { type: "string", pattern: "^[a-z][a-z0-9_]*$" },
                message: { type: "string" },
              },
            },
          },
        },
        ImageRecord: {
          type: "object",
          required: [
            "id",
            "journal_id",
            "entry_id",
            "name",
            "extension",
            "content_type",
            "size",
            "sha256",
            "width",
            "height",
            "created_at",
            "url",
          ],
          additionalProperties: false,
          properties: {
            id: ref("schemas", "ImageId"),
            journal_id: ref("schemas", "EntityId"),
            entry_id: ref("schemas", "EntityId"),
            name: { type: "string", minLength: 1 },
            extension: { type: "string", enum: ["png", "jpg", "jpeg", "gif", "webp", "avif"] },
            content_type: { type: "string", enum: [...settings.imageContentTypes] },
            size: {
              type: "integer",
              minimum: 1,
              description: "Bytes as stored (after metadata is removed).",
            },
            sha256: { type: "string", pattern: "^[0-9a-f]{64}$" },
            width: {
              type: ["integer", "null"],
              minimum: 1,
              description:
                "Displayed pixels (after orientation); `null` for records written before it was kept.",
            },
            height: { type: ["integer", "null"], minimum: 1 },
            created_at: { type: "string", format: "date-time" },
            url: {
              type: "string",
              pattern: "^/journals/[^/]+/entries/[^/]+/images/[0-9a-f-]{36}$",
              description:
                "The image's path on the gateway; it needs a credential (an access token in `<img>`).",
            },
          },
        },
        ImageList: {
          type: "object",
          required: ["images"],
          additionalProperties: false,
          properties: { images: { type: "array", items: ref("schemas", "ImageRecord") } },
        },
        DirectUpload: {
          type: "object",
          required: ["file"],
          properties: {
            file: { type: "string", contentMediaType: "application/octet-stream" },
            name: { type: "string" },
          },
        },
        AccessToken: {
          type: "object",
          required: ["token", "expires_at", "expires_in"],
          additionalProperties: false,
          properties: {
            token: { type: "string", description: "An HS256 JWT; treat it as opaque." },
            expires_at: { type: "string", format: "date-time" },
            expires_in: { type: "integer", minimum: 1, maximum: 3600, description: "Seconds." },
          },
        },
        UploadRequest: {
          type: "object",
          required: ["size"],
          properties: {
            name: { type: "string" },
            size: {
              type: "integer",
              minimum: 1,
              maximum: settings.maxImageBytes,
              description: "The file's bytes.",
            },
          },
        },
        UploadTicket: {
          type: "object",
          required: ["id", "upload", "expires_at", "max_bytes"],
          additionalProperties: false,
          properties: {
            id: { ...ref("schemas", "ImageId"), description: "The upload's id (not the image's)." },
            upload: {
              type: "object",
              required: ["url", "fields"],
              additionalProperties: false,
              properties: {
                url: { type: "string", format: "uri" },
                fields: { type: "object", additionalProperties: { type: "string" } },
              },
            },
            expires_at: { type: "string", format: "date-time" },
            max_bytes: {
              type: "integer",
              minimum: 1,
              maximum: settings.maxImageBytes,
              description: "The largest file the form takes: the size declared, never more.",
            },
          },
        },
        UploadStatus: {
          oneOf: [
            ref("schemas", "UploadPending"),
            ref("schemas", "UploadReady"),
            ref("schemas", "UploadRejected"),
          ],
          discriminator: {
            propertyName: "status",
            mapping: {
              pending: "#/components/schemas/UploadPending",
              ready: "#/components/schemas/UploadReady",
              rejected: "#/components/schemas/UploadRejected",
            },
          },
        },
        UploadPending: {
          type: "object",
          required: ["status", "id", "expires_at"],
          additionalProperties: false,
          properties: {
            status: { const: "pending" },
            id: ref("schemas", "ImageId"),
            expires_at: { type: "string", format: "date-time" },
          },
        },
        UploadReady: {
          type: "object",
          required: ["status", "id", "image"],
          additionalProperties: false,
          properties: {
            status: { const: "ready" },
            id: ref("schemas", "ImageId"),
            image: {
              description:
                "The record holding the bytes (for a duplicate, the existing one); `null` once deleted.",
              oneOf: [ref("schemas", "ImageRecord"), { type: "null" }],
            },
          },
        },
        UploadRejected: {
          type: "object",
          required: ["status", "id", "error"],
          additionalProperties: false,
          properties: {
            status: { const: "rejected" },
            id: ref("schemas", "ImageId"),
            error: {
              type: "object",
              required: ["code", "message"],
              additionalProperties: false,
              properties: {
                code: {
                  type: "string",
                  enum: ["unsupported_type", "too_large", "empty_file", "invalid_image", "expired"],
                },
                message: { type: "string" },
              },
            },
          },
        },
        Health: {
          type: "object",
          required: ["status"],
          additionalProperties: false,
          properties: { status: { const: "ok" } },
        },
        GatewaySettings: {
          type: "object",
          required: ["max_direct_upload_bytes", "max_image_bytes", "variant_widths"],
          properties: {
            max_direct_upload_bytes: { type: "integer", minimum: 1 },
            max_image_bytes: { type: "integer", minimum: 1 },
            variant_widths: { type: "array", items: { type: "integer", minimum: 1 } },
          },
        },
      },
    },
  };
}
