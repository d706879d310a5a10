import { describe, expect, it } from "vitest";
import { srcsetWidths } from "../../client/srcset.ts";

describe("srcsetWidths", () => {
  const widths = [160, 320, 640, 1280, 1920];

  it.each([
    [
      1000,
      [
        [160, 160],
        [320, 320],
        [640, 640],
        [1280, 1000],
      ],
    ],
    [
      1280,
      [
        [160, 160],
        [320, 320],
        [640, 640],
        [1280, 1280],
      ],
    ],
    [
      4032,
      [
        [160, 160],
        [320, 320],
        [640, 640],
        [1280, 1280],
        [1920, 1920],
      ],
    ],
    [
      161,
      [
        [160, 160],
        [320, 161],
      ],
    ],
    [160, []],
    [64, []],
    [null, []],
  ] as const)("for an image %s px wide asks for and describes %j", (imageWidth, expected) => {
    expect(srcsetWidths(widths, imageWidth).map(({ ask, described }) => [ask, described])).toEqual(expected);
  });
});
