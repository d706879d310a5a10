/**
 * The hex SHA-256 of `bytes`, computed off the event loop (Web Crypto runs it on libuv's thread pool), so
 * a request's other work goes on meanwhile.
 */
export async function sha256Hex(bytes: Uint8Array): Promise<string> {
  // Web Crypto copies its input before it starts, so a view of any buffer is safe to hand over.
  const digest = await crypto.subtle.digest("SHA-256", bytes as Uint8Array<ArrayBuffer>);
  return Buffer.from(digest).toString("hex");
}
