import { ConfigurationError } from "../../contract/errors";
import { fetchSecretString, type GetSecretString } from "../../contract/keyLoaders";
import type { SecretSource } from "../config";

/**
 * The secret a source names. A Secrets Manager secret is fetched through `getSecretString`, injectable
 * because no local server answers it; callers memoize it and fetch it again every `SECRET_REFRESH_MS`.
 *
 * @throws {Error} when the secret is missing or empty
 */
export async function resolveSecret(
  source: SecretSource,
  getSecretString: GetSecretString = fetchSecretString,
): Promise<string> {
  if (source.type === "value") return source.value;
  const value = await getSecretString(source.secretId, source.region);
  if (!value) throw new ConfigurationError(`The secret ${source.secretId} has no string value.`);
  return value.trim();
}
