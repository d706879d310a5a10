import { ImageGatewayError, unexpected } from "./ImageGatewayError.ts";
import type { GatewaySettings } from "./types.ts";

/** Where the gateway publishes its contract; the document carries the deployment's limits too. */
export const OPENAPI_PATH = "/api/openapi.json";
/** The document's extension holding the limits (`x-image-gateway` at its root). */
export const SETTINGS_EXTENSION = "x-image-gateway";

/**
 * Reads the gateway's limits from its OpenAPI document (public, no credential): the direct upload limit
 * decides the upload route and the variant widths make `srcset`s, so the client never copies either.
 *
 * @throws {ImageGatewayError} when the document cannot be read or lacks the limits
 */
export async function fetchSettings(baseUrl: string, fetchFn: typeof fetch): Promise<GatewaySettings> {
  const response = await fetchFn(`${baseUrl}${OPENAPI_PATH}`, { headers: { accept: "application/json" } });
  if (!response.ok) throw unexpected(response.status);
  const document = (await response.json()) as Record<string, unknown>;
  const limits = document[SETTINGS_EXTENSION] as Record<string, unknown> | undefined;
  const maxDirect = limits?.max_direct_upload_bytes;
  const maxImage = limits?.max_image_bytes;
  const widths = limits?.variant_widths;
  if (
    typeof maxDirect !== "number" ||
    typeof maxImage !== "number" ||
    !Array.isArray(widths) ||
    !widths.every((width) => Number.isInteger(width))
  ) {
    throw new ImageGatewayError(
      response.status,
      "unexpected_response",
      `The gateway's ${OPENAPI_PATH} carries no ${SETTINGS_EXTENSION} limits.`,
    );
  }
  return {
    maxDirectUploadBytes: maxDirect,
    maxImageBytes: maxImage,
    variantWidths: [...(widths as number[])].sort((a, b) => a - b),
  };
}
