/**
 * Which widths to ask for and how wide each answer really is: a `w` descriptor must be the candidate's
 * true width. The gateway never upscales, so every width below the image's own is itself, and the
 * smallest width at or above it gives the image's own size and is described as that. An image no wider
 * than the smallest width offers nothing to choose between, and one of unknown size (a record written
 * before the gateway measured images) nothing true to say: both get no candidates, and `src` serves.
 */
export function srcsetWidths(
  widths: readonly number[],
  imageWidth: number | null | undefined,
): { ask: number; described: number }[] {
  if (typeof imageWidth !== "number") return [];
  const below = widths.filter((width) => width < imageWidth).map((ask) => ({ ask, described: ask }));
  if (below.length === 0) return [];
  const covering = widths.find((width) => width >= imageWidth);
  return covering === undefined ? below : [...below, { ask: covering, described: imageWidth }];
}
