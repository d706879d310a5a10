import { createHash } from "node:crypto";

/** The keys the crash test's writer process rewrites again and again. */
export const FILE_STORE_CRASH_KEYS = Array.from(
  { length: 8 },
  (_, index) => `dev/crash/entries/e/images/k${index}`,
);

/**
 * The bytes of one version of `key`: deterministic, of a size that changes with the round (so a torn
 * write would show), with the round in their first bytes.
 */
export function fileStoreVersion(key: string, round: number): Uint8Array {
  const size = 64 * 1024 + ((round * 7919) % 200_000);
  const bytes = new Uint8Array(size);
  let seed = createHash("sha256").update(`${key}#${round}`).digest();
  for (let offset = 0; offset < size; offset += seed.length) {
    bytes.set(seed.subarray(0, Math.min(seed.length, size - offset)), offset);
    seed = createHash("sha256").update(seed).digest();
  }
  new DataView(bytes.buffer).setUint32(0, round);
  return bytes;
}
