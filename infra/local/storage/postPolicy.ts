import { createHmac, timingSafeEqual } from "node:crypto";
import { S3Refusal } from "./S3Refusal";

/** What signs the local bucket's forms: an access key id and its secret. */
export interface StorageCredentials {
  readonly accessKeyId: string;
  readonly secretAccessKey: string;
}

/** What a form's policy allows, once it has been checked. */
export interface AllowedPost {
  /** The one key the form may write. */
  readonly key: string;
  /** The file's size range in bytes, both ends included (`content-length-range`). */
  readonly minBytes: number;
  readonly maxBytes: number;
}

/** What the check needs to know besides the form. */
export interface PolicyContext {
  readonly bucket: string;
  readonly region: string;
  readonly credentials: StorageCredentials;
  /** Milliseconds since the epoch. */
  readonly now: number;
  /** The size range when the policy names none: what the door takes at most. */
  readonly maxBytes: number;
}

const ALGORITHM = "AWS4-HMAC-SHA256";
/** Fields S3 never expects a policy condition for (its documentation's list). */
const UNCONDITIONED_FIELDS = new Set(["policy", "x-amz-signature", "file"]);

/**
 * What S3 checks of a browser-based (presigned) POST before it takes the file, on the text fields that
 * came before the file part (names lower-cased, as S3 compares them): a SigV4 signature over the policy
 * with `credentials`, the policy's expiry, every condition (`eq`, `starts-with`, `content-length-range`)
 * and no field the policy does not condition. The caller checks the file's size against the range.
 *
 * @throws {S3Refusal} with the status, code and message S3 answers
 */
export function checkPostPolicy(fields: ReadonlyMap<string, string>, context: PolicyContext): AllowedPost {
  const policy = fields.get("policy");
  const [accessKeyId, date, region, service, terminator] = (fields.get("x-amz-credential") ?? "").split("/");
  if (!policy || fields.get("x-amz-algorithm") !== ALGORITHM || !date || terminator !== "aws4_request") {
    throw new S3Refusal(403, "AccessDenied", "The form is not signed with a SigV4 POST policy.");
  }
  if (accessKeyId !== context.credentials.accessKeyId) {
    throw new S3Refusal(
      403,
      "InvalidAccessKeyId",
      "The AWS Access Key Id you provided does not exist in our records.",
    );
  }
  if (region !== context.region || service !== "s3" || !fields.get("x-amz-date")?.startsWith(date)) {
    throw new S3Refusal(
      400,
      "AuthorizationQueryParametersError",
      "The credential scope is not this bucket's.",
    );
  }
  if (!signatureMatches(policy, fields.get("x-amz-signature") ?? "", date, context)) {
    throw new S3Refusal(
      403,
      "SignatureDoesNotMatch",
      "The request signature we calculated does not match the signature you provided.",
    );
  }

  const document = parsePolicy(policy);
  if (!(Date.parse(document.expiration) > context.now)) {
    throw new S3Refusal(403, "AccessDenied", "Invalid according to Policy: Policy expired.");
  }
  const key = fields.get("key");
  if (key === undefined) {
    throw new S3Refusal(400, "InvalidArgument", "Bucket POST must contain a field named 'key'.");
  }
  let minBytes = 0;
  let maxBytes = context.maxBytes;
  const conditioned = new Set<string>();
  for (const condition of document.conditions) {
    if (condition.operator === "content-length-range") {
      minBytes = Math.max(minBytes, condition.min);
      maxBytes = Math.min(maxBytes, condition.max);
      continue;
    }
    conditioned.add(condition.field);
    const actual = condition.field === "bucket" ? context.bucket : fields.get(condition.field);
    const holds =
      actual !== undefined &&
      (condition.operator === "starts-with"
        ? actual.startsWith(condition.value)
        : actual === condition.value);
    if (!holds) {
      throw new S3Refusal(
        403,
        "AccessDenied",
        `Invalid according to Policy: Policy Condition failed: ${condition.field}`,
      );
    }
  }
  const extra = [...fields.keys()].filter(
    (name) => !conditioned.has(name) && !UNCONDITIONED_FIELDS.has(name) && !name.startsWith("x-ignore-"),
  );
  if (extra.length > 0) {
    throw new S3Refusal(
      403,
      "AccessDenied",
      `Invalid according to Policy: Extra input fields: ${extra.join(", ")}`,
    );
  }
  return { key, minBytes, maxBytes };
}

/** SigV4 for a POST policy: the signing key of the credential's scope, over the base64 policy itself. */
function signatureMatches(policy: string, signature: string, date: string, context: PolicyContext): boolean {
  const signingKey = [date, context.region, "s3", "aws4_request"].reduce<Buffer>(
    (key, part) => createHmac("sha256", key).update(part).digest(),
    Buffer.from(`AWS4${context.credentials.secretAccessKey}`),
  );
  const expected = createHmac("sha256", signingKey).update(policy).digest();
  const given = /^[0-9a-f]{64}$/.test(signature) ? Buffer.from(signature, "hex") : Buffer.alloc(0);
  return given.length === expected.length && timingSafeEqual(given, expected);
}

type Condition =
  | { readonly operator: "eq" | "starts-with"; readonly field: string; readonly value: string }
  | { readonly operator: "content-length-range"; readonly min: number; readonly max: number };

/** The policy document, every condition in one shape. */
function parsePolicy(policy: string): { expiration: string; conditions: Condition[] } {
  const invalid = (why: string) => new S3Refusal(400, "InvalidPolicyDocument", `Invalid Policy: ${why}`);
  let document: { expiration?: unknown; conditions?: unknown };
  try {
    document = JSON.parse(Buffer.from(policy, "base64").toString("utf8")) as typeof document;
  } catch {
    throw invalid("Invalid JSON.");
  }
  if (typeof document.expiration !== "string" || !Array.isArray(document.conditions)) {
    throw invalid("It must have an expiration and a list of conditions.");
  }
  const conditions = document.conditions.map((raw: unknown): Condition => {
    if (Array.isArray(raw)) {
      const [operator, first, second] = raw as unknown[];
      if (
        operator === "content-length-range" &&
        Number.isSafeInteger(first) &&
        Number.isSafeInteger(second)
      ) {
        return { operator, min: first as number, max: second as number };
      }
      if (
        (operator === "eq" || operator === "starts-with") &&
        typeof first === "string" &&
        typeof second === "string"
      ) {
        return { operator, field: first.replace(/^\$/, "").toLowerCase(), value: second };
      }
    } else if (typeof raw === "object" && raw !== null && Object.keys(raw).length === 1) {
      const [[field, value]] = Object.entries(raw) as [[string, unknown]];
      if (typeof value === "string") return { operator: "eq", field: field.toLowerCase(), value };
    }
    throw invalid(`Unknown condition ${JSON.stringify(raw).slice(0, 80)}.`);
  });
  return { expiration: document.expiration, conditions };
}
