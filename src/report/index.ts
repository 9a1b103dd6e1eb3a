/**
 * Pictures of a model's evaluation, as pure functions of plain figures: the
 * SVG charts (confusion-matrix heatmap, per-class score bars,
 * cross-validation folds) and the number formats they use. The training
 * report (src/training/report/) and the server's web console draw them from
 * the same numbers with the same code.
 */
export { CHART_STYLE, classScoresSvg, confusionMatrixSvg, foldAccuracySvg } from "./charts.js";
export { plural } from "./format.js";
