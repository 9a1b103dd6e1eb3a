/**
 * The human-readable evaluation report: `report.html` (a self-contained page
 * with inline SVG charts: confusion-matrix heatmap, per-class score bars,
 * cross-validation folds, coefficient heatmap) and `report.md` (the same
 * figures as Markdown tables with bar glyphs, for reading on a forge).
 * Deterministic: the same run always renders the same bytes.
 */
import type { CrossValidationMetrics, HeldOutMetrics, TrainedArtifact } from "./build-artifact.js";

export interface ReportInput {
  artifact: TrainedArtifact;
  heldOut: HeldOutMetrics | null;
  crossValidation: CrossValidationMetrics;
  train: { rows: number; accuracy: number; logLoss: number };
  datasetPath: string;
  sha256: string;
  iterations: number;
  gradientNorm: number;
  converged: boolean;
  trainRows: number;
  testRows: number;
}

/** `1 iteration`, `8 iterations`. */
export function plural(count: number, noun: string): string {
  return `${count} ${noun}${count === 1 ? "" : "s"}`;
}

const pct = (v: number, digits = 1) => `${(v * 100).toFixed(digits)} %`;
const fixed = (v: number, digits = 3) => v.toFixed(digits);
const sci = (v: number) => v.toExponential(1);

function escapeHtml(s: string): string {
  return s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

function escapeMd(s: string): string {
  return s.replace(/([\\|*_`[\]<>])/g, "\\$1");
}

/** A bar of `width` cells for a value in [0, 1], with eighth-block precision. */
function bar(value: number, width = 20): string {
  const eighths = Math.round(Math.max(0, Math.min(1, value)) * width * 8);
  const full = Math.floor(eighths / 8);
  const rest = eighths % 8;
  return "█".repeat(full) + (rest > 0 ? "▏▎▍▌▋▊▉"[rest - 1]! : "");
}

// ---------------------------------------------------------------- Markdown

export function renderMarkdown(input: ReportInput): string {
  const { artifact: a, heldOut, crossValidation: cv } = input;
  const out: string[] = [];
  out.push(`# ${a.name} · evaluation report`, "");
  out.push(
    `Model version \`${a.version}\` · ${a.algorithm} · C = ${a.hyperparameters.C} · ` +
      `trained on ${input.trainRows} of ${input.trainRows + input.testRows} rows of \`${input.datasetPath}\` ` +
      `(sha256 \`${input.sha256.slice(0, 12)}…\`)${a.createdAt ? ` · created ${a.createdAt}` : ""}`,
    "",
  );
  out.push("The same figures, with charts: [report.html](report.html).", "");

  if (heldOut) {
    out.push(`## Held-out test set (${heldOut.rows} rows)`, "");
    out.push("| | |", "|---|---|");
    out.push(`| **Accuracy** | **${pct(heldOut.accuracy)}** (${heldOut.correct} of ${heldOut.rows}) |`);
    out.push(`| Macro F1 | ${fixed(heldOut.macroF1)} |`);
    out.push(`| Log-loss | ${fixed(heldOut.logLoss, 4)} |`, "");
    out.push("### Confusion matrix", "", "Rows: true species. Columns: predicted species. Diagonal = correct.", "");
    out.push(`| true ↓ · predicted → | ${a.classes.map(escapeMd).join(" | ")} |`);
    out.push(`|---|${a.classes.map(() => "---:").join("|")}|`);
    heldOut.confusionMatrix.forEach((row, t) => {
      const cells = row.map((n, p) => (t === p ? `**${n}**` : n === 0 ? "·" : `⚠ ${n}`));
      out.push(`| **${escapeMd(a.classes[t]!)}** | ${cells.join(" | ")} |`);
    });
    out.push("", "### Per-class scores", "");
    out.push("| species | precision | recall | F1 | support | F1 |", "|---|---:|---:|---:|---:|---|");
    for (const s of heldOut.perClass) {
      out.push(
        `| ${escapeMd(s.class)} | ${fixed(s.precision)} | ${fixed(s.recall)} | ${fixed(s.f1)} | ${s.support} | \`${bar(s.f1).padEnd(20, " ")}\` |`,
      );
    }
    out.push("");
  } else {
    out.push("## Held-out test set", "", "None: trained on every row (`--test-fraction 0`).", "");
  }

  out.push(`## Cross-validation (${cv.folds}-fold stratified, on the ${cv.rows} training rows)`, "");
  out.push(
    `Accuracy **${pct(cv.accuracyMean)} ± ${pct(cv.accuracyStd)}** (mean ± population standard deviation over folds).`,
    "",
  );
  out.push("| fold | accuracy | |", "|---:|---:|---|");
  cv.foldAccuracies.forEach((acc, i) => out.push(`| ${i + 1} | ${pct(acc)} | \`${bar(acc).padEnd(20, " ")}\` |`));
  out.push("");

  out.push("## Training", "");
  out.push(
    `Newton's method with Armijo line search: **${plural(input.iterations, "iteration")}**, ` +
      `gradient norm ${sci(input.gradientNorm)}, ${input.converged ? "converged" : "**did not converge**"}. ` +
      `On its own ${input.train.rows} training rows the model scores ${pct(input.train.accuracy)} ` +
      `(log-loss ${fixed(input.train.logLoss, 4)}).`,
    "",
  );
  out.push("### Coefficients (per cm) and intercepts", "");
  out.push(`| species | ${a.features.map((f) => f.name).join(" | ")} | intercept |`);
  out.push(`|---|${a.features.map(() => "---:").join("|")}|---:|`);
  a.classes.forEach((c, k) => {
    out.push(
      `| ${escapeMd(c)} | ${a.coefficients[k]!.map((v) => fixed(v, 4)).join(" | ")} | ${fixed(a.intercepts[k]!, 4)} |`,
    );
  });
  out.push("", "### Features (training rows)", "");
  out.push("| feature | unit | min | max | mean | std |", "|---|---|---:|---:|---:|---:|");
  for (const f of a.features) {
    out.push(`| ${f.name} | ${f.unit} | ${fixed(f.min, 2)} | ${fixed(f.max, 2)} | ${fixed(f.mean, 3)} | ${fixed(f.std, 3)} |`);
  }
  out.push("");
  return out.join("\n");
}

// -------------------------------------------------------------------- HTML

const INK = "#1f2933";
const MUTED = "#616e7c";
const GOOD = [222, 235, 247, 8, 81, 156] as const; // light → dark blue
const BAD = [254, 229, 217, 203, 24, 29] as const; // light → dark red
const METRIC_COLOURS = { precision: "#4e79a7", recall: "#f28e2b", f1: "#59a14f" } as const;

function mix(scale: readonly number[], t: number): string {
  const c = (i: number) => Math.round(scale[i]! + (scale[i + 3]! - scale[i]!) * t);
  return `rgb(${c(0)},${c(1)},${c(2)})`;
}

function confusionSvg(classes: readonly string[], matrix: number[][]): string {
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

function scoresSvg(heldOut: HeldOutMetrics): string {
  const left = 104;
  const barWidth = 300;
  const barHeight = 14;
  const group = 3 * (barHeight + 3) + 16;
  const top = 30;
  const width = left + barWidth + 70;
  const height = top + heldOut.perClass.length * group + 22;
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
  heldOut.perClass.forEach((s, i) => {
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

function foldsSvg(cv: CrossValidationMetrics): string {
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
        ? `<text x="${x + barWidth / 2}" y="${y(acc) + 15}" text-anchor="middle" class="value" style="fill:#fff">${pct(acc, 1)}</text>`
        : `<text x="${x + barWidth / 2}" y="${y(acc) - 5}" text-anchor="middle" class="value">${pct(acc, 1)}</text>`,
    );
  });
  const my = y(cv.accuracyMean);
  parts.push(
    `<line x1="${left}" y1="${my}" x2="${width - right}" y2="${my}" stroke="#e15759" stroke-width="2" stroke-dasharray="6 4"/>`,
    `<text x="${width - right + 6}" y="${my + 4}" class="value" style="fill:#e15759">mean ${pct(cv.accuracyMean)}</text>`,
    "</svg>",
  );
  return parts.join("\n");
}

function coefficientTable(a: TrainedArtifact): string {
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
${confusionSvg(a.classes, heldOut.confusionMatrix)}
</figure>
<figure>
<figcaption>Precision, recall and F1 per species.</figcaption>
${scoresSvg(heldOut)}
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
body { font: 15px/1.5 system-ui, -apple-system, "Segoe UI", sans-serif; color: ${INK}; margin: 0; background: #f5f7fa; }
main { max-width: 980px; margin: 0 auto; padding: 28px 20px 48px; }
h1 { font-size: 24px; margin: 0 0 4px; }
h2 { font-size: 18px; margin: 0 0 12px; }
.muted, .meta { color: ${MUTED}; font-weight: normal; }
.meta { font-size: 13px; margin-bottom: 20px; }
code { font-family: ui-monospace, SFMono-Regular, Menlo, monospace; font-size: 13px; }
section { background: #fff; border-radius: 10px; padding: 18px 20px; margin: 16px 0; box-shadow: 0 1px 3px rgba(0,0,0,.08); }
.cards { display: flex; flex-wrap: wrap; gap: 12px; }
.card { flex: 1 1 150px; background: #fff; border-radius: 10px; padding: 12px 16px; box-shadow: 0 1px 3px rgba(0,0,0,.08); }
.card-title { font-size: 12px; text-transform: uppercase; letter-spacing: .04em; color: ${MUTED}; }
.card-value { font-size: 28px; font-weight: 600; }
.card-note { font-size: 12px; color: ${MUTED}; }
.charts { display: flex; flex-wrap: wrap; gap: 24px; align-items: flex-start; }
figure { margin: 0; }
figcaption { font-size: 13px; color: ${MUTED}; margin-bottom: 6px; max-width: 420px; }
svg text { font-family: system-ui, -apple-system, "Segoe UI", sans-serif; }
svg .axis { font-size: 12px; fill: ${MUTED}; }
svg .label { font-size: 13px; fill: ${INK}; }
svg .value { font-size: 11px; fill: ${MUTED}; }
svg .count { font-size: 22px; font-weight: 600; }
svg .share { font-size: 11px; }
svg .grid { stroke: #d9e2ec; stroke-width: 1; }
table { border-collapse: collapse; font-size: 14px; }
th, td { padding: 5px 10px; text-align: left; }
td.num, .coef td { text-align: right; font-variant-numeric: tabular-nums; }
thead th { border-bottom: 1px solid #d9e2ec; font-weight: 600; }
.coef td { border-radius: 4px; }
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
${foldsSvg(cv)}
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
