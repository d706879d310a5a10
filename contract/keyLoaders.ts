import { ConfigurationError } from "./errors";
import type { SigningKey } from "./KeyRing";

/**
 * Where the signing keys come from. Lambda@Edge has no environment variables and nothing secret is baked
 * into a bundle, so on AWS the keys live in Secrets Manager; locally they come from the environment or a
 * key file. A loader is asked when a container starts and again every `SECRET_REFRESH_MS` (5 minutes).
 */
export interface SigningKeyLoader {
  load(): Promise<SigningKey[]>;
}

/** How the baked configuration names the key source. */
export type KeySource =
  | { readonly type: "secrets-manager"; readonly secretId: string; readonly region: string }
  | { readonly type: "env"; readonly variable: string }
  | { readonly type: "file"; readonly path: string };

/**
 * Parses the key document kept in the secret, the variable or the file:
 * `{"keys": [{"kid": "2026-11", "secret": "<base64url, at least 32 bytes>"}, ...]}`, first key signs.
 * A single `{"kid", "secret"}` object is accepted too: it is what Secrets Manager generates on deploy.
 */
export function parseSigningKeys(document: string): SigningKey[] {
  let parsed: unknown;
  try {
    parsed = JSON.parse(document);
  } catch {
    throw new ConfigurationError("The signing key document is not JSON.");
  }
  const single = parsed as { kid?: unknown; secret?: unknown } | null;
  const keys =
    single?.kid !== undefined && single.secret !== undefined
      ? [single]
      : (parsed as { keys?: unknown })?.keys;
  if (!Array.isArray(keys) || keys.length === 0)
    throw new ConfigurationError('The signing key document has no "keys".');
  return keys.map((entry: unknown, index) => {
    const { kid, secret } = (entry ?? {}) as { kid?: unknown; secret?: unknown };
    if (typeof kid !== "string" || typeof secret !== "string") {
      throw new ConfigurationError(`Signing key ${index} needs a string "kid" and "secret".`);
    }
    return { kid, secret: new Uint8Array(Buffer.from(secret, "base64url")) };
  });
}

/** Serializes keys into the document `parseSigningKeys` reads. */
export function formatSigningKeys(keys: readonly SigningKey[]): string {
  return JSON.stringify({
    keys: keys.map(({ kid, secret }) => ({ kid, secret: Buffer.from(secret).toString("base64url") })),
  });
}

/** Keys already in memory (tests, and the local gateway once it has read or made its key file). */
export function staticKeyLoader(keys: readonly SigningKey[]): SigningKeyLoader {
  return { load: async () => [...keys] };
}

/** The one Secrets Manager call the loader makes; injectable because no local server answers it. */
export type GetSecretString = (secretId: string, region: string) => Promise<string | undefined>;

/** Chooses the loader the configuration names. */
export function keyLoaderFor(
  source: KeySource,
  getSecretString: GetSecretString = fetchSecretString,
): SigningKeyLoader {
  switch (source.type) {
    case "env":
      return {
        load: async () => {
          const document = process.env[source.variable];
          if (!document) throw new ConfigurationError(`${source.variable} is not set.`);
          return parseSigningKeys(document);
        },
      };
    case "file":
      return {
        load: async () => {
          const { readFile } = await import("node:fs/promises");
          return parseSigningKeys(await readFile(source.path, "utf8"));
        },
      };
    case "secrets-manager":
      return {
        load: async () => {
          const document = await getSecretString(source.secretId, source.region);
          if (!document) throw new ConfigurationError("The signing key secret has no string value.");
          return parseSigningKeys(document);
        },
      };
  }
}

/** The one Secrets Manager call, edge and origin alike: `GetSecretValue` in the secret's region. */
export async function fetchSecretString(secretId: string, region: string): Promise<string | undefined> {
  // The Lambda runtime ships the AWS SDK; the bundle keeps it external to stay small.
  const { SecretsManagerClient, GetSecretValueCommand } = await import("@aws-sdk/client-secrets-manager");
  const client = new SecretsManagerClient({ region });
  const { SecretString } = await client.send(new GetSecretValueCommand({ SecretId: secretId }));
  return SecretString;
}

/**
 * Where the signing keys are, by the environment's names, in this order: `SIGNING_KEYS` (the JSON
 * document), `SIGNING_KEYS_FILE`, `SIGNING_KEYS_SECRET_ID` (Secrets Manager, in the ARN's own region).
 */
export function keySourceFromEnv(env: NodeJS.ProcessEnv): KeySource | undefined {
  if (env.SIGNING_KEYS) return { type: "env", variable: "SIGNING_KEYS" };
  if (env.SIGNING_KEYS_FILE) return { type: "file", path: env.SIGNING_KEYS_FILE };
  const secretId = env.SIGNING_KEYS_SECRET_ID;
  if (secretId) return { type: "secrets-manager", secretId, region: secretRegion(secretId, env.AWS_REGION) };
  return undefined;
}

/** A secret ARN names its region (the keys live in us-east-1, beside the edge); a bare name uses ours. */
export function secretRegion(secretId: string, fallback = "us-east-1"): string {
  return /^arn:aws[a-z-]*:secretsmanager:([a-z0-9-]+):/.exec(secretId)?.[1] ?? fallback;
}
