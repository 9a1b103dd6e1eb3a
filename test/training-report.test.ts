/**
 * The report's charts are pure functions of plain figures whose output goes
 * inline into any HTML page; the rendered reports are the committed ones,
 * byte for byte.
 */
import { readFile } from "node:fs/promises";
import { describe, expect, it } from "vitest";
import { CHART_STYLE, classScoresSvg, confusionMatrixSvg, foldAccuracySvg } from "../src/report/index.js";
import { train } from "../src/training/index.js";

/** The single top-level element of an inline SVG chart, and its text. */
function svgOf(markup: string): { root: string; text: string } {
  expect(markup.startsWith('<svg xmlns="http://www.w3.org/2000/svg" ')).toBe(true);
  expect(markup.endsWith("</svg>")).toBe(true);
  expect(markup.match(/<svg\b/g)).toHaveLength(1);
  return { root: markup.slice(0, markup.indexOf(">") + 1), text: markup };
}

describe("charts from plain figures", () => {
  it("draw a confusion matrix of any size, escaping class names", () => {
    const { root, text } = svgOf(
      confusionMatrixSvg(["<b>cat</b>", "dog & co"], [
        [7, 1],
        [0, 4],
      ]),
    );
    expect(root).toMatch(/role="img" aria-label="Confusion matrix"/);
    expect(text).not.toContain("<b>");
    expect(text).toContain("&#60;b&#62;cat&#60;/b&#62;");
    expect(text).toContain("dog &#38; co");
    // One cell per pair, each with its count and its share of the true class's row.
    expect(text.match(/<rect /g)).toHaveLength(4);
    expect(text).toContain("true &#60;b&#62;cat&#60;/b&#62;, predicted dog &#38; co: 1 of 8");
    expect(text).toContain(">88 %</text>");
  });

  it("draw per-class bars and fold accuracies", () => {
    const scores = svgOf(classScoresSvg([{ class: "a", precision: 0.5, recall: 1, f1: 2 / 3 }]));
    expect(scores.text).toContain("<title>a recall: 1.000</title>");
    expect(scores.text).toContain('width="150.0"'); // precision 0.5 of the 300-wide scale
    const folds = svgOf(foldAccuracySvg({ foldAccuracies: [0.8, 1], accuracyMean: 0.9 }));
    expect(folds.text).toContain("<title>fold 2: 100.0 %</title>");
    expect(folds.text).toContain("mean 90.0 %");
  });

  it("come with the CSS for the classes they use, scoped to svg", () => {
    const markup = [
      confusionMatrixSvg(["a", "b"], [[1, 0], [0, 1]]),
      classScoresSvg([{ class: "a", precision: 1, recall: 1, f1: 1 }]),
      foldAccuracySvg({ foldAccuracies: [1, 1], accuracyMean: 1 }),
    ].join("\n");
    const used = new Set([...markup.matchAll(/class="([^"]+)"/g)].map((m) => m[1]!));
    // `class="value on-bar"` is styled by `svg .value.on-bar`.
    for (const names of used) expect(CHART_STYLE).toContain(`svg .${names.split(" ").join(".")} {`);
    for (const line of CHART_STYLE.split("\n")) expect(line).toMatch(/^svg /);
    // Colours come from classes and attributes, never a style attribute, which a strict CSP (style-src 'self') ignores.
    expect(markup).not.toContain("style=");
  });
});

describe("rendered reports", () => {
  it("are the committed artifacts/report.md and report.html, byte for byte", async () => {
    const run = await train({});
    for (const name of ["report.md", "report.html"]) {
      const committed = await readFile(new URL(`../artifacts/${name}`, import.meta.url), "utf8");
      expect(run.files.find((f) => f.name === name)!.content, name).toBe(committed);
    }
  });
});
