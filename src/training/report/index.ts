/**
 * The human-readable evaluation report: `report.html` (a self-contained
 * page with inline SVG charts: confusion-matrix heatmap, per-class score
 * bars, cross-validation folds, coefficient heatmap) and `report.md` (the
 * same figures as Markdown tables with bar glyphs, for reading on a forge).
 * Deterministic: the same run always renders the same bytes.
 */
export { renderMarkdown } from "./markdown.js";
export { renderHtml } from "./html.js";
