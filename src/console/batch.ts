/**
 * Batch: a CSV file (chosen or dropped) read as the trainer reads one
 * (./csv.ts), its good rows predicted by `POST /predict` in batches, the
 * answers shown as a table (the first rows) and offered whole as a CSV
 * download; rows that cannot be predicted are listed as
 * `file:line:column: problem`.
 */
import { FEATURES } from "../model/features.js";
import { CsvFileError, decodeCsv, readCsv, writeCsv, type CsvProblem } from "./csv.js";
import type { ConsoleData } from "./data.js";
import { byId, h, percent } from "./dom.js";
import { predictBatch } from "./predict.js";

/** Rows per request: well under the server's limit and quick to answer. */
const CHUNK_ROWS = 5_000;
/** Rows shown in the table (the download has them all). */
const TABLE_ROWS = 200;
/** Problems listed (the status line counts them all). */
const LISTED_PROBLEMS = 100;

export interface Batch {
  update(data: ConsoleData): void;
}

export function startBatch(initial: ConsoleData): Batch {
  let data = initial;
  const input = byId<HTMLInputElement>("batch-file");
  const drop = byId("batch-drop");
  const status = byId("batch-status");
  const problemsBox = byId("batch-problems");
  const download = byId<HTMLAnchorElement>("batch-download");
  const tableWrap = byId("batch-table-wrap");
  const table = byId<HTMLTableElement>("batch-table");
  let url: string | undefined;

  const listProblems = (file: string, problems: readonly CsvProblem[]): void => {
    if (problems.length === 0) return problemsBox.replaceChildren();
    const shown = problems.slice(0, LISTED_PROBLEMS);
    problemsBox.replaceChildren(
      h("h3", {}, `Rows not predicted (${problems.length})`),
      h("ul", { id: "batch-problem-list" }, ...shown.map((p) => h("li", {}, `${file}:${p.line}:${p.column}: ${p.message}`))),
    );
    if (problems.length > shown.length) problemsBox.append(h("p", {}, `… and ${problems.length - shown.length} more.`));
  };

  const reset = (): void => {
    if (url !== undefined) URL.revokeObjectURL(url);
    url = undefined;
    download.hidden = true;
    tableWrap.hidden = true;
    table.replaceChildren();
    problemsBox.replaceChildren();
  };

  const run = async (file: File): Promise<void> => {
    reset();
    status.textContent = `Reading ${file.name}…`;
    let parsed;
    try {
      parsed = readCsv(decodeCsv(await file.arrayBuffer()));
    } catch (err) {
      if (!(err instanceof CsvFileError)) throw err;
      status.textContent = `${file.name} cannot be read.`;
      listProblems(file.name, [err.problem]);
      return;
    }
    const { rows, problems, header, speciesColumn } = parsed;
    listProblems(file.name, problems);
    if (rows.length === 0) {
      status.textContent = `No row of ${file.name} can be predicted.`;
      return;
    }
    const species: string[] = [];
    const probabilities: number[][] = [];
    let version = "";
    try {
      for (let start = 0; start < rows.length; start += Math.min(CHUNK_ROWS, data.maxBatchRows)) {
        const chunk = rows.slice(start, start + Math.min(CHUNK_ROWS, data.maxBatchRows));
        status.textContent = `Predicting rows ${start + 1}–${start + chunk.length} of ${rows.length}…`;
        const answer = await predictBatch(chunk.map((r) => r.values));
        species.push(...answer.species);
        probabilities.push(...answer.probabilities);
        version = answer.model_version;
      }
    } catch (err) {
      status.textContent = `The server refused the batch: ${(err as Error).message}`;
      return;
    }
    const classes = data.classes;
    const outOf = (values: number[]): string =>
      FEATURES.filter((name, j) => {
        const range = data.features.find((f) => f.name === name);
        return range !== undefined && (values[j]! < range.min || values[j]! > range.max);
      }).join(" ");
    const outHeader = ["line", ...header, "predicted_species", ...classes.map((c) => `probability_${c}`), "out_of_training_range", "model_version"];
    const outRows = rows.map((r, i) => [r.line, ...r.cells, species[i]!, ...probabilities[i]!, outOf(r.values), version]);
    url = URL.createObjectURL(new Blob([writeCsv(outHeader, outRows)], { type: "text/csv" }));
    download.href = url;
    download.download = `${file.name.replace(/\.csv$/i, "")}-predictions.csv`;
    download.hidden = false;

    const given = speciesColumn;
    const agree = given === undefined ? 0 : rows.filter((r, i) => r.cells[given]!.trim() === species[i]).length;
    status.textContent =
      `${rows.length} row${rows.length === 1 ? "" : "s"} predicted by model ${version}` +
      (problems.length > 0 ? `; ${problems.length} not predicted (listed below)` : "") +
      (given === undefined ? "." : `; the prediction matches the file's species on ${agree} of ${rows.length}.`);

    const head = h(
      "tr",
      {},
      ...["line", ...FEATURES, ...(given === undefined ? [] : ["species (file)"]), "predicted", "probability", "outside training range"].map((t) =>
        h("th", { scope: "col" }, t),
      ),
    );
    const body = rows.slice(0, TABLE_ROWS).map((r, i) => {
      const p = probabilities[i]!;
      const top = Math.max(...p);
      const mismatch = given !== undefined && r.cells[given]!.trim() !== species[i];
      const out = outOf(r.values);
      return h(
        "tr",
        {},
        h("td", { class: "num" }, String(r.line)),
        ...r.values.map((v) => h("td", { class: "num" }, String(v))),
        given === undefined ? null : h("td", {}, r.cells[given]!.trim()),
        h("td", mismatch ? { class: "mismatch" } : {}, mismatch ? `${species[i]!} ≠` : species[i]!),
        h("td", { class: "num" }, percent(top)),
        h("td", out ? { class: "flagged" } : {}, out),
      );
    });
    table.replaceChildren(
      h("caption", { class: "muted" }, rows.length > TABLE_ROWS ? `The first ${TABLE_ROWS} of ${rows.length} rows; the download has them all.` : `${rows.length} rows.`),
      h("thead", {}, head),
      h("tbody", {}, ...body),
    );
    tableWrap.hidden = false;
  };

  const take = (file: File | undefined): void => {
    if (file !== undefined) void run(file);
  };
  input.addEventListener("change", () => take(input.files?.[0]));
  drop.addEventListener("dragover", (event) => {
    event.preventDefault();
    drop.classList.add("over");
  });
  drop.addEventListener("dragleave", () => drop.classList.remove("over"));
  drop.addEventListener("drop", (event) => {
    event.preventDefault();
    drop.classList.remove("over");
    take(event.dataTransfer?.files[0]);
  });
  return {
    update(next) {
      data = next;
    },
  };
}
