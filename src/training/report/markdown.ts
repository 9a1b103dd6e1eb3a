/**
 * `report.md`: the evaluation figures as Markdown tables with bar glyphs,
 * for reading on a forge. Deterministic: the same run renders the same bytes.
 */
import { fixed, pct, plural, sci } from "../../report/format.js";
import type { ReportInput } from "./input.js";

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
