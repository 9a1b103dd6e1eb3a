/**
 * The console's page (`GET /`), rendered on the server from the served
 * model: the model card in full (readable without JavaScript: text, tables
 * and the training report's SVG charts, drawn by the same functions from the
 * artifact's metrics), and the controls of the parts the script brings to
 * life (Try it, Batch, Live). What the script needs to know (the model's
 * features and ranges, the gRPC port, the batch limit) is in a JSON data
 * block, which a Content-Security-Policy does not treat as script.
 */
import type { ModelArtifact } from "../../../model/index.js";
import { classScoresSvg, confusionMatrixSvg, foldAccuracySvg } from "../../../report/charts.js";
import { escapeHtml as esc, fixed, pct } from "../../../report/format.js";
import type { ServedModel } from "../../served-model.js";
import type { ConsoleAssets } from "./assets.js";

/** What the page says beyond the model. */
export interface PageContext {
  /** The model's name in the Open Inference Protocol (its `/v2/models/{name}` routes). */
  modelName: string;
  /** The gRPC port, for the grpcurl and SDK snippets. */
  grpcPort: number;
  maxBatchRows: number;
  serverVersion: string;
  /** Whether the port serves `GET /metrics` (the Live panel reads it). */
  metrics: boolean;
  assets: ConsoleAssets;
}

/** The page's data block, read by the script (src/console/data.ts declares the same shape for the browser, which may not import server code). */
export interface ConsoleData {
  modelName: string;
  version: string;
  loadedAt: string;
  grpcPort: number;
  maxBatchRows: number;
  metrics: boolean;
  classes: string[];
  features: { name: string; unit: string; min: number; max: number }[];
}

/** `sepal_length` → `sepal length`. */
const spoken = (name: string): string => name.replace(/_/g, " ");

/** A time as people read it, to the second, in UTC. */
const when = (date: Date): string => `${date.toISOString().slice(0, 19).replace("T", " ")} UTC`;

/** A number with at most `digits` decimals and no trailing zeros (4.3, 0.1, 1e-10 stays 1e-10). */
function short(v: number, digits = 4): string {
  if (v !== 0 && Math.abs(v) < 10 ** -digits) return String(v);
  return String(Number(v.toFixed(digits)));
}

function card(title: string, value: string, note: string): string {
  return `<div class="card"><div class="title">${title}</div><div class="value">${value}</div><div class="note">${note}</div></div>`;
}

function heldOutPart(a: ModelArtifact): string {
  const h = a.metrics.heldOut;
  if (h === null) return `<h3>Held-out test set</h3><p>None: the model was trained on every row (<code>--test-fraction 0</code>).</p>`;
  const rows = h.perClass
    .map(
      (c) =>
        `<tr><th scope="row">${esc(c.class)}</th><td class="num">${fixed(c.precision)}</td><td class="num">${fixed(c.recall)}</td><td class="num">${fixed(c.f1)}</td><td class="num">${c.support}</td></tr>`,
    )
    .join("\n");
  return `<h3>Held-out test set <span class="muted">${h.rows} rows, ${h.correct} correct</span></h3>
<div class="charts">
<figure>
<figcaption>Confusion matrix: each row is a true species; blue = correct, red = mistaken; percentages of the row.</figcaption>
${confusionMatrixSvg(a.classes, h.confusionMatrix)}
</figure>
<figure>
<figcaption>Precision, recall and F1 per species.</figcaption>
${classScoresSvg(h.perClass)}
</figure>
</div>
<div class="table-wrap"><table>
<caption class="muted">Per-species scores on the held-out rows</caption>
<thead><tr><th scope="col">species</th><th scope="col" class="num">precision</th><th scope="col" class="num">recall</th><th scope="col" class="num">F1</th><th scope="col" class="num">support</th></tr></thead>
<tbody>
${rows}
</tbody></table></div>`;
}

/** The model card: everything the artifact says about the model, for people. */
function modelCard(served: ServedModel, modelName: string): string {
  const a = served.model.artifact;
  const { heldOut: h, crossValidation: cv, train } = a.metrics;
  const t = a.training;
  const cards = [
    h ? card("Held-out accuracy", pct(h.accuracy), `${h.correct} of ${h.rows} test rows`) : card("Held-out accuracy", "—", "no test rows"),
    h ? card("Macro F1", fixed(h.macroF1), "mean of per-species F1") : "",
    h ? card("Log-loss", fixed(h.logLoss, 4), "held-out, lower is better") : "",
    card(`${cv.folds}-fold CV accuracy`, pct(cv.accuracyMean), `± ${pct(cv.accuracyStd)} (population std)`),
    card("Training accuracy", pct(train.accuracy), `on its ${train.rows} training rows`),
  ].join("\n");
  const features = a.features
    .map(
      (f) =>
        `<tr><th scope="row">${esc(spoken(f.name))}</th><td>${esc(f.unit)}</td><td class="num">${short(f.min, 2)}</td><td class="num">${short(f.max, 2)}</td><td class="num">${fixed(f.mean, 3)}</td><td class="num">${fixed(f.std, 3)}</td></tr>`,
    )
    .join("\n");
  const hp = a.hyperparameters;
  const hyperparameters: [string, string][] = [
    ["C (inverse regularisation)", short(hp.C, 6)],
    ["penalty", hp.penalty],
    ["max iterations", String(hp.maxIter)],
    ["tolerance", String(hp.tol)],
    ["test fraction", short(hp.testFraction)],
    ["seed", String(hp.seed)],
    ["folds", String(hp.folds)],
  ];
  const provenance: [string, string][] = [
    ["data", `<code>${esc(t.dataset.path)}</code>, ${t.dataset.rows} rows, sha256 <code>${esc(t.dataset.sha256.slice(0, 12))}…</code>`],
    ["split", `${t.trainRows} train / ${t.testRows} test (${esc(t.split.method)}, seed ${t.seed})`],
    ["optimizer", `${esc(t.optimizer.method)}, ${t.optimizer.iterations} iterations, gradient ${t.optimizer.gradientNorm.toExponential(1)}, ${t.optimizer.converged ? "converged" : "<strong>not converged</strong>"}`],
    ...(a.createdAt ? ([["created", esc(a.createdAt)]] as [string, string][]) : []),
  ];
  const pairs = (list: [string, string][]) => `<dl class="pairs">${list.map(([k, v]) => `<dt>${k}</dt><dd>${v}</dd>`).join("")}</dl>`;
  return `<h2 id="card-title">Model card</h2>
<dl class="pairs">
<dt>name</dt><dd><code>${esc(a.name)}</code>${modelName !== a.name ? ` (served as <code>${esc(modelName)}</code>)` : ""}</dd>
<dt>version</dt><dd><code data-role="version">${esc(served.model.version)}</code></dd>
<dt>loaded</dt><dd><time datetime="${served.loadedAt.toISOString()}">${when(served.loadedAt)}</time></dd>
<dt>algorithm</dt><dd>${esc(a.algorithm)} (<code>${esc(a.format)}</code>)</dd>
<dt>classes</dt><dd>${a.classes.map((c) => esc(c)).join(", ")}</dd>
</dl>
<h3>Evaluation</h3>
<div class="cards">
${cards}
</div>
${heldOutPart(a)}
<h3>Cross-validation <span class="muted">${cv.folds}-fold stratified, on the ${cv.rows} training rows</span></h3>
<figure>
<figcaption>Accuracy of each fold; the dashed line is the mean.</figcaption>
${foldAccuracySvg(cv)}
</figure>
<div class="columns">
<div>
<h3>Features <span class="muted">training ranges</span></h3>
<div class="table-wrap"><table>
<thead><tr><th scope="col">feature</th><th scope="col">unit</th><th scope="col" class="num">min</th><th scope="col" class="num">max</th><th scope="col" class="num">mean</th><th scope="col" class="num">std</th></tr></thead>
<tbody>
${features}
</tbody></table></div>
</div>
<div>
<h3>Hyperparameters</h3>
${pairs(hyperparameters)}
<h3>Training</h3>
${pairs(provenance)}
</div>
</div>`;
}

/** The sliders and numbers of Try it, bounded by the training ranges. */
function tryItControls(a: ModelArtifact): string {
  return a.features
    .map((f) => {
      const id = `f-${f.name}`;
      const start = Math.min(f.max, Math.max(f.min, Math.round(f.mean * 10) / 10));
      const range = `training range ${short(f.min, 2)}–${short(f.max, 2)} ${esc(f.unit)}`;
      return `<div class="feature" data-feature="${esc(f.name)}">
<div class="head"><label for="${id}">${esc(spoken(f.name))} (${esc(f.unit)})</label><span class="range" id="${id}-range">${range}</span></div>
<div class="controls">
<input type="range" id="${id}-slider" min="${f.min}" max="${f.max}" step="0.1" value="${start}" aria-label="${esc(spoken(f.name))} slider" aria-describedby="${id}-range">
<input type="number" id="${id}" min="0" step="0.1" value="${start}" inputmode="decimal" aria-describedby="${id}-range ${id}-flag">
</div>
<p class="flag" id="${id}-flag"></p>
</div>`;
    })
    .join("\n");
}

function dataBlock(data: ConsoleData): string {
  // `<` escaped: nothing in the data can close the element.
  return `<script type="application/json" id="console-data">${JSON.stringify(data).replace(/</g, "\\u003c")}</script>`;
}

export function consoleData(served: ServedModel, context: PageContext): ConsoleData {
  const a = served.model.artifact;
  return {
    modelName: context.modelName,
    version: served.model.version,
    loadedAt: served.loadedAt.toISOString(),
    grpcPort: context.grpcPort,
    maxBatchRows: context.maxBatchRows,
    metrics: context.metrics,
    classes: [...a.classes],
    features: a.features.map((f) => ({ name: f.name, unit: f.unit, min: f.min, max: f.max })),
  };
}

function head(title: string, context: PageContext, { script = true, extra = "" } = {}): string {
  const { assets } = context;
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${esc(title)}</title>
<link rel="icon" href="${assets.icon.path}" type="image/svg+xml">
<link rel="stylesheet" href="${assets.style.path}">
${script && assets.script ? `<script type="module" src="${assets.script.path}"></script>\n` : ""}${extra}</head>`;
}

/** The whole page for the served model. */
export function consolePage(served: ServedModel, context: PageContext): string {
  const a = served.model.artifact;
  const version = served.model.version;
  const features = a.features.map((f) => f.name).join(", ");
  return `${head(`${a.name} ${version} · iris-serve`, context)}
<body>
<a class="skip" href="#main">Skip to the content</a>
<header class="top"><div class="inner" id="model-header">
<h1>${esc(a.name)} <span class="version">version <code data-role="version">${esc(version)}</code></span></h1>
<p class="meta">iris-serve ${esc(context.serverVersion)} · ${a.classes.length} species from ${a.features.length} measurements · loaded <time datetime="${served.loadedAt.toISOString()}">${when(served.loadedAt)}</time></p>
<nav aria-label="Sections"><ul>
<li><a href="#card">Model card</a></li><li><a href="#try">Try it</a></li><li><a href="#batch">Batch</a></li><li><a href="#live">Live</a></li><li><a href="/docs">API docs</a></li><li><a href="/openapi.json">OpenAPI</a></li>
</ul></nav>
<p class="notice" id="model-notice" role="status"></p>
</div></header>
<main id="main">
<section class="panel" id="card" aria-labelledby="card-title">
${modelCard(served, context.modelName)}
</section>

<section class="panel" id="try" aria-labelledby="try-title">
<h2 id="try-title">Try it</h2>
<noscript><p>Try it, Batch and Live need JavaScript; the model card above does not.</p></noscript>
<p class="muted">Move a slider or type a measurement: the prediction follows. Sliders span the training range; typed values may go beyond it (the model then extrapolates, and the value is flagged).</p>
<div class="columns">
<form id="try-form" aria-label="Measurements">
${tryItControls(a)}
</form>
<div class="result" id="try-result">
<p class="species">Predicted: <output id="try-species" for="${a.features.map((f) => `f-${f.name}`).join(" ")}">…</output></p>
<ol class="bars" id="try-bars" aria-label="Probability of each species">
${a.classes.map((c) => `<li data-class="${esc(c)}"><span>${esc(c)}</span><span class="track" aria-hidden="true"><span class="fill"></span></span><span class="pct">–</span></li>`).join("\n")}
</ol>
<p class="server-flag" id="try-server-flag"></p>
<p class="error-text" id="try-error" role="alert"></p>
</div>
</div>
<div class="snippets" id="snippets">
<h3>Copy as</h3>
<fieldset>
<legend>Call the server with these measurements, as</legend>
<label><input type="radio" name="snippet" value="curl-predict" checked> curl /predict</label>
<label><input type="radio" name="snippet" value="curl-v2"> curl V2 infer</label>
<label><input type="radio" name="snippet" value="grpcurl"> grpcurl</label>
<label><input type="radio" name="snippet" value="sdk"> TypeScript SDK</label>
</fieldset>
<pre id="snippet-text" tabindex="0" aria-label="Snippet"><code></code></pre>
<button type="button" id="snippet-copy">Copy</button> <span class="status" id="snippet-status" role="status"></span>
</div>
</section>

<section class="panel" id="batch" aria-labelledby="batch-title">
<h2 id="batch-title">Batch</h2>
<p class="muted">A CSV file with a header row naming ${esc(features)} (in any order; other columns are kept, and a <code>species</code> column is compared with the prediction). Rows that cannot be predicted are listed by line, as the trainer reports them.</p>
<div class="drop" id="batch-drop">
<label for="batch-file">Choose a CSV file</label> <input type="file" id="batch-file" accept=".csv,text/csv"> <span class="muted">or drop one here</span>
</div>
<p class="status" id="batch-status" role="status"></p>
<div class="problems" id="batch-problems"></div>
<a class="download" id="batch-download" download="predictions.csv" hidden>Download the predictions (CSV)</a>
<div class="table-wrap" id="batch-table-wrap" tabindex="0" role="region" aria-label="Predictions table" hidden><table id="batch-table"></table></div>
</section>

<section class="panel" id="live" aria-labelledby="live-title">
<h2 id="live-title">Live</h2>
<p class="muted">Prediction calls on both ports (HTTP <code>/predict</code> and V2 infer; gRPC Predict, BatchPredict and ModelInfer) from the server's own metrics (<a href="/metrics">/metrics</a>), read every 2 s while this page is open.</p>
<p class="status" id="live-status" role="status"></p>
<div class="tiles" id="live-tiles"></div>
<div class="live-charts" id="live-charts"></div>
</section>
</main>
${dataBlock(consoleData(served, context))}
</body>
</html>
`;
}

/** The page while no model is loaded: it says so and looks again every few seconds. */
export function noModelPage(context: PageContext): string {
  return `${head("No model loaded · iris-serve", context, { script: false, extra: '<meta http-equiv="refresh" content="5">\n' })}
<body>
<main id="main"><section class="panel"><h1>No model is loaded yet</h1><p>This page looks again every 5 seconds.</p></section></main>
</body>
</html>
`;
}
