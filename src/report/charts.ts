/**
 * The report's SVG charts, as pure functions of plain figures: each returns
 * one `<svg>` element (fixed size, with a viewBox, a role and a label) to
 * put inline in any HTML page, together with {@link CHART_STYLE} in the
 * page's CSS (the charts' text classes). No inline `style` attribute, so
 * a page under a strict Content-Security-Policy (`style-src 'self'`) shows
 * them as drawn. Depends on nothing but ./format.ts, so a page other than
 * the training report can draw the same charts from the same numbers (e.g.
 * an artifact's `metrics`).
 */
import { escapeHtml, fixed, pct } from "./format.js";

/** Text colour. */
export const INK = "#1f2933";
/** Secondary text colour. */
export const MUTED = "#616e7c";
const GOOD = [222, 235, 247, 8, 81, 156] as const; // light → dark blue
const BAD = [254, 229, 217, 203, 24, 29] as const; // light → dark red
const METRIC_COLOURS = { precision: "#4e79a7", recall: "#f28e2b", f1: "#59a14f" } as const;

/** One class's bars in {@link classScoresSvg}. */
export interface ClassScoreBars {
  class: string;
  precision: number;
  recall: number;
  f1: number;
}

/** What {@link foldAccuracySvg} draws. */
export interface FoldAccuracies {
  foldAccuracies: readonly number[];
  accuracyMean: number;
}

/** The CSS the charts' text and grid classes need, scoped to `svg`. */
export const CHART_STYLE = `svg text { font-family: system-ui, -apple-system, "Segoe UI", sans-serif; }
svg .axis { font-size: 12px; fill: ${MUTED}; }
svg .label { font-size: 13px; fill: ${INK}; }
svg .value { font-size: 11px; fill: ${MUTED}; }
svg .count { font-size: 22px; font-weight: 600; }
svg .share { font-size: 11px; }
svg .grid { stroke: #d9e2ec; stroke-width: 1; }
svg .value.on-bar { fill: #fff; }
svg .value.mean { fill: #e15759; }`;

/**
 * A colour between the two ends of `scale` ([r0, g0, b0, r1, g1, b1]) at
 * t in [0, 1], as `rgb(...)`.
 */
export function mix(scale: readonly number[], t: number): string {
  const c = (i: number) => Math.round(scale[i]! + (scale[i + 3]! - scale[i]!) * t);
  return `rgb(${c(0)},${c(1)},${c(2)})`;
}

/**
 * The confusion matrix as a heatmap: rows are true classes, columns
 * predicted ones; blue shades the correct cells by their share of the row,
 * red the mistakes.
 */
export function confusionMatrixSvg(classes: readonly string[], matrix: readonly (readonly number[])[]): string {
  const cell = 84;
  const left = 118;
  const top = 64;
  const k = classes.length;
  const width = left + k * cell + 12;
  const height = top + k * cell + 14;
  const parts: string[] = [];
  parts.push(
    `<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 ${width} ${height}" width="${width}" height="${height}" role="img" aria-label="Confusion matrix">`,
    `<text x="${left + (k * cell) / 2}" y="16" text-anchor="middle" class="axis">predicted species</text>`,
    `<text x="14" y="${top + (k * cell) / 2}" text-anchor="middle" class="axis" transform="rotate(-90 14 ${top + (k * cell) / 2})">true species</text>`,
  );
  classes.forEach((c, i) => {
    parts.push(
      `<text x="${left + i * cell + cell / 2}" y="${top - 10}" text-anchor="middle" class="label">${escapeHtml(c)}</text>`,
      `<text x="${left - 8}" y="${top + i * cell + cell / 2 + 4}" text-anchor="end" class="label">${escapeHtml(c)}</text>`,
    );
  });
  matrix.forEach((row, t) => {
    const total = row.reduce((s, v) => s + v, 0);
    row.forEach((n, p) => {
      const share = total === 0 ? 0 : n / total;
      const fill = n === 0 ? "#f5f7fa" : mix(t === p ? GOOD : BAD, t === p ? share : Math.min(1, 0.35 + share));
      const dark = t === p ? share > 0.55 : n > 0;
      const x = left + p * cell;
      const y = top + t * cell;
      parts.push(
        `<rect x="${x + 1}" y="${y + 1}" width="${cell - 2}" height="${cell - 2}" rx="6" fill="${fill}"><title>true ${escapeHtml(classes[t]!)}, predicted ${escapeHtml(classes[p]!)}: ${n} of ${total}</title></rect>`,
        `<text x="${x + cell / 2}" y="${y + cell / 2 + 2}" text-anchor="middle" class="count" fill="${dark ? "#fff" : INK}">${n}</text>`,
        `<text x="${x + cell / 2}" y="${y + cell / 2 + 20}" text-anchor="middle" class="share" fill="${dark ? "#fff" : MUTED}">${pct(share, 0)}</text>`,
      );
    });
  });
  parts.push("</svg>");
  return parts.join("\n");
}

/** Precision, recall and F1 of each class as horizontal bars on a 0–1 scale. */
export function classScoresSvg(perClass: readonly ClassScoreBars[]): string {
  const left = 104;
  const barWidth = 300;
  const barHeight = 14;
  const group = 3 * (barHeight + 3) + 16;
  const top = 30;
  const width = left + barWidth + 70;
  const height = top + perClass.length * group + 22;
  const parts: string[] = [
    `<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 ${width} ${height}" width="${width}" height="${height}" role="img" aria-label="Per-class precision, recall and F1">`,
  ];
  const legend = Object.entries(METRIC_COLOURS);
  legend.forEach(([name, colour], i) => {
    parts.push(
      `<rect x="${left + i * 96}" y="6" width="12" height="12" rx="2" fill="${colour}"/>`,
      `<text x="${left + i * 96 + 17}" y="16" class="label">${name === "f1" ? "F1" : name}</text>`,
    );
  });
  for (const tick of [0, 0.5, 1]) {
    const x = left + tick * barWidth;
    parts.push(
      `<line x1="${x}" y1="${top - 4}" x2="${x}" y2="${height - 20}" class="grid"/>`,
      `<text x="${x}" y="${height - 6}" text-anchor="middle" class="value">${tick}</text>`,
    );
  }
  perClass.forEach((s, i) => {
    const y0 = top + i * group;
    parts.push(`<text x="${left - 10}" y="${y0 + group / 2 - 2}" text-anchor="end" class="label">${escapeHtml(s.class)}</text>`);
    (["precision", "recall", "f1"] as const).forEach((m, j) => {
      const y = y0 + j * (barHeight + 3);
      const w = Math.max(1, s[m] * barWidth);
      parts.push(
        `<rect x="${left}" y="${y}" width="${w.toFixed(1)}" height="${barHeight}" rx="3" fill="${METRIC_COLOURS[m]}"><title>${escapeHtml(s.class)} ${m}: ${fixed(s[m])}</title></rect>`,
        `<text x="${left + w + 6}" y="${y + barHeight - 3}" class="value">${fixed(s[m])}</text>`,
      );
    });
  });
  parts.push("</svg>");
  return parts.join("\n");
}

/**
 * Cross-validation accuracy of each fold as columns, with the mean as a
 * dashed line; the y axis spans the band the folds are in.
 */
export function foldAccuracySvg(cv: FoldAccuracies): string {
  const barWidth = 46;
  const gap = 14;
  const chartHeight = 140;
  const left = 44;
  const top = 14;
  const right = 118;
  const width = left + cv.foldAccuracies.length * (barWidth + gap) + right;
  const height = top + chartHeight + 34;
  // The y axis shows the band where the folds are, so that small differences are visible.
  const low = Math.max(0, Math.floor((Math.min(...cv.foldAccuracies) - 0.05) * 10) / 10);
  const y = (v: number) => top + chartHeight - ((v - low) / (1 - low)) * chartHeight;
  const parts: string[] = [
    `<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 ${width} ${height}" width="${width}" height="${height}" role="img" aria-label="Cross-validation accuracy per fold">`,
  ];
  for (const tick of [low, (low + 1) / 2, 1]) {
    parts.push(
      `<line x1="${left}" y1="${y(tick)}" x2="${width - right}" y2="${y(tick)}" class="grid"/>`,
      `<text x="${left - 6}" y="${y(tick) + 4}" text-anchor="end" class="value">${pct(tick, 0)}</text>`,
    );
  }
  cv.foldAccuracies.forEach((acc, i) => {
    const x = left + gap / 2 + i * (barWidth + gap);
    parts.push(
      `<rect x="${x}" y="${y(acc)}" width="${barWidth}" height="${top + chartHeight - y(acc)}" rx="4" fill="#4e79a7"><title>fold ${i + 1}: ${pct(acc)}</title></rect>`,
      `<text x="${x + barWidth / 2}" y="${top + chartHeight + 16}" text-anchor="middle" class="label">fold ${i + 1}</text>`,
      // The value sits inside the bar's top when there is room, clear of the mean line.
      top + chartHeight - y(acc) >= 22
        ? `<text x="${x + barWidth / 2}" y="${y(acc) + 15}" text-anchor="middle" class="value on-bar">${pct(acc, 1)}</text>`
        : `<text x="${x + barWidth / 2}" y="${y(acc) - 5}" text-anchor="middle" class="value">${pct(acc, 1)}</text>`,
    );
  });
  const my = y(cv.accuracyMean);
  parts.push(
    `<line x1="${left}" y1="${my}" x2="${width - right}" y2="${my}" stroke="#e15759" stroke-width="2" stroke-dasharray="6 4"/>`,
    `<text x="${width - right + 6}" y="${my + 4}" class="value mean">mean ${pct(cv.accuracyMean)}</text>`,
    "</svg>",
  );
  return parts.join("\n");
}
