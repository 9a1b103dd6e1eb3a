/**
 * `report.html`: a self-contained page (inline CSS and SVG, no scripts, no
 * external resources) with the figures as cards, charts and tables.
 * Deterministic: the same run renders the same bytes.
 */
import type { ModelArtifact } from "../../model/index.js";
import { classScoresSvg, confusionMatrixSvg, foldAccuracySvg, INK, mix } from "../../report/charts.js";
import { escapeHtml, fixed, pct, plural, sci } from "../../report/format.js";
import type { ReportInput } from "./input.js";
import { REPORT_STYLE } from "./style.js";

/** The coefficients as a table shaded by sign and size (blue raises a class's score, red lowers it). */
function coefficientTable(a: ModelArtifact): string {
  const all = a.coefficients.flat().map(Math.abs);
  const scale = Math.max(...all, 1e-12);
  const cell = (v: number) => {
    const t = Math.min(1, Math.abs(v) / scale);
    const colour = mix(v >= 0 ? [255, 255, 255, 8, 81, 156] : [255, 255, 255, 203, 24, 29], t * 0.85);
    return `<td style="background:${colour};color:${t > 0.55 ? "#fff" : INK}">${fixed(v, 3)}</td>`;
  };
  const head = a.features.map((f) => `<th>${escapeHtml(f.name)}</th>`).join("");
  const rows = a.classes
    .map(
      (c, k) =>
        `<tr><th>${escapeHtml(c)}</th>${a.coefficients[k]!.map(cell).join("")}<td class="num">${fixed(a.intercepts[k]!, 3)}</td></tr>`,
    )
    .join("\n");
  return `<table class="coef"><thead><tr><th></th>${head}<th>intercept</th></tr></thead><tbody>\n${rows}\n</tbody></table>`;
}

function card(title: string, value: string, note: string): string {
  return `<div class="card"><div class="card-title">${title}</div><div class="card-value">${value}</div><div class="card-note">${note}</div></div>`;
}

export function renderHtml(input: ReportInput): string {
  const { artifact: a, heldOut, crossValidation: cv } = input;
  const title = `${a.name} · evaluation report`;
  const cards = [
    heldOut
      ? card("Held-out accuracy", pct(heldOut.accuracy), `${heldOut.correct} of ${heldOut.rows} test rows`)
      : card("Held-out accuracy", "—", "no test rows (--test-fraction 0)"),
    heldOut ? card("Macro F1", fixed(heldOut.macroF1), "mean of per-class F1") : "",
    heldOut ? card("Log-loss", fixed(heldOut.logLoss, 4), "mean −log p(true species)") : "",
    card(`${cv.folds}-fold CV accuracy`, pct(cv.accuracyMean), `± ${pct(cv.accuracyStd)} (population std)`),
    card("Optimizer", plural(input.iterations, "step"), `gradient ${sci(input.gradientNorm)}, ${input.converged ? "converged" : "NOT converged"}`),
  ].join("\n");
  const heldOutSection = heldOut
    ? `<section>
<h2>Held-out test set <span class="muted">${heldOut.rows} rows</span></h2>
<div class="charts">
<figure>
<figcaption>Confusion matrix: each row is a true species; blue = correct, red = mistaken; percentages of the row.</figcaption>
${confusionMatrixSvg(a.classes, heldOut.confusionMatrix)}
</figure>
<figure>
<figcaption>Precision, recall and F1 per species.</figcaption>
${classScoresSvg(heldOut.perClass)}
</figure>
</div>
</section>`
    : `<section><h2>Held-out test set</h2><p>None: the model was trained on every row (<code>--test-fraction 0</code>).</p></section>`;
  const featureRows = a.features
    .map(
      (f) =>
        `<tr><th>${escapeHtml(f.name)}</th><td>${escapeHtml(f.unit)}</td><td class="num">${fixed(f.min, 2)}</td><td class="num">${fixed(f.max, 2)}</td><td class="num">${fixed(f.mean, 3)}</td><td class="num">${fixed(f.std, 3)}</td></tr>`,
    )
    .join("\n");
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${escapeHtml(title)}</title>
<style>
${REPORT_STYLE}
</style>
</head>
<body>
<main>
<h1>${escapeHtml(title)}</h1>
<div class="meta">model <code>${escapeHtml(a.version)}</code> · ${escapeHtml(a.algorithm)} · C = ${a.hyperparameters.C} · trained on ${input.trainRows} of ${input.trainRows + input.testRows} rows of <code>${escapeHtml(input.datasetPath)}</code> (sha256 <code>${input.sha256.slice(0, 12)}…</code>) · seed ${a.hyperparameters.seed}${a.createdAt ? ` · created ${escapeHtml(a.createdAt)}` : ""}</div>
<div class="cards">
${cards}
</div>
${heldOutSection}
<section>
<h2>Cross-validation <span class="muted">${cv.folds}-fold stratified, on the ${cv.rows} training rows</span></h2>
${foldAccuracySvg(cv)}
</section>
<section>
<h2>Model <span class="muted">coefficients per cm of each measurement; blue raises a species' score, red lowers it</span></h2>
${coefficientTable(a)}
<p class="muted">On its own ${input.train.rows} training rows: accuracy ${pct(input.train.accuracy)}, log-loss ${fixed(input.train.logLoss, 4)}.</p>
<h2>Features <span class="muted">training rows</span></h2>
<table><thead><tr><th>feature</th><th>unit</th><th>min</th><th>max</th><th>mean</th><th>std</th></tr></thead><tbody>
${featureRows}
</tbody></table>
</section>
</main>
</body>
</html>
`;
}
