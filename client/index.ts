/**
 * The image gateway's client for apps: uploads (direct or presigned, by the gateway's own limit), listings,
 * deletes, and image URLs and `srcset`s with access tokens it keeps fresh. Browsers and Node 20+; no
 * dependency beyond `fetch` (and `XMLHttpRequest` in browsers, for upload progress).
 *
 * @packageDocumentation
 */
export { createImageGatewayClient } from "./createImageGatewayClient.ts";
export { ImageGatewayError } from "./ImageGatewayError.ts";
export type {
  ImageGatewayClient,
  ImageGatewayClientOptions,
  ImageRecord,
  ImageUrlOptions,
  SrcsetOptions,
  UploadBody,
  UploadOptions,
  UploadProgress,
  VariantFormat,
} from "./types.ts";
