import { ConfigurationError } from "./errors";
/** One HMAC signing key as configured: an id for the JWT `kid` header and at least 32 random bytes. */
export interface SigningKey {
  readonly kid: string;
  readonly secret: Uint8Array;
}

const MIN_SECRET_BYTES = 32;
const KID_PATTERN = /^[A-Za-z0-9._-]{1,64}$/;

/**
 * The configured HS256 keys, imported each time the key source is (re)loaded (every `SECRET_REFRESH_MS`). Every key verifies; the first one signs, so a
 * new key is rotated in by putting it first while the old one keeps verifying until its tokens expire.
 */
export class KeyRing {
  private constructor(
    public readonly signingKid: string,
    private readonly keys: ReadonlyMap<string, CryptoKey>,
  ) {}

  /** Validates and imports `keys` (WebCrypto, not per request). */
  public static async create(keys: readonly SigningKey[]): Promise<KeyRing> {
    const [first] = keys;
    if (!first) throw new ConfigurationError("At least one signing key is required.");
    const imported = new Map<string, CryptoKey>();
    for (const { kid, secret } of keys) {
      if (!KID_PATTERN.test(kid)) throw new ConfigurationError(`Signing key id "${kid}" is not valid.`);
      if (imported.has(kid)) throw new ConfigurationError(`Signing key id "${kid}" is configured twice.`);
      if (secret.byteLength < MIN_SECRET_BYTES) {
        throw new ConfigurationError(`Signing key "${kid}" is shorter than ${MIN_SECRET_BYTES} bytes.`);
      }
      const key = await crypto.subtle.importKey(
        "raw",
        Uint8Array.from(secret),
        { name: "HMAC", hash: "SHA-256" },
        false,
        ["sign", "verify"],
      );
      imported.set(kid, key);
    }
    return new KeyRing(first.kid, imported);
  }

  /** The key that signs new tokens. */
  public get signingKey(): CryptoKey {
    return this.keys.get(this.signingKid) as CryptoKey;
  }

  /** The verification key for a token's `kid`, if it is one of ours. */
  public verificationKey(kid: string | undefined): CryptoKey | undefined {
    return kid === undefined ? undefined : this.keys.get(kid);
  }
}
