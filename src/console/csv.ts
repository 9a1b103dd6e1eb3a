/**
 * Reading a CSV file of flowers in the browser, as the trainer reads its
 * data (src/training/dataset.ts): the same parser (csv-parse, with the
 * trainer's options), the same header rule (columns found by name, in any
 * order), the same cell rule and locator (src/model/csv-locator.ts) and the
 * same words, each problem at its `line:column` as an editor shows it. Unlike the trainer, the file needs
 * no `species` column (when it has one, it is kept for comparison), and a
 * bad row does not stop the others: every good row is predicted, every
 * bad one is reported.
 */
import { parse } from "csv-parse/browser/esm/sync";
import { CsvLocator, measurementTextProblem } from "../model/csv-locator.js";
import { FEATURES } from "../model/features.js";

/** The optional column compared with the prediction. */
const SPECIES = "species";

interface CsvRow {
  /** The 1-based line on which the row starts. */
  line: number;
  /** The four measurements, in FEATURES order. */
  values: number[];
  /** Every cell as written, in the header's order. */
  cells: string[];
}

export interface CsvProblem {
  line: number;
  column: number;
  message: string;
}

export interface CsvFile {
  /** The header's names, trimmed. */
  header: string[];
  /** The `species` column's index, when the file has one. */
  speciesColumn: number | undefined;
  rows: CsvRow[];
  problems: CsvProblem[];
}

/** A problem that makes the whole file unreadable (no header, a quote never closed...). */
export class CsvFileError extends Error {
  constructor(readonly problem: CsvProblem) {
    super(`${problem.line}:${problem.column}: ${problem.message}`);
  }
}

const LINE_BREAK = /\r\n|\r|\n/g;

/** The text of a file's bytes, refusing bytes that are not UTF-8 (at their position), as the trainer does. */
export function decodeCsv(bytes: ArrayBuffer): string {
  try {
    return new TextDecoder("utf-8", { fatal: true }).decode(bytes);
  } catch {
    const text = new TextDecoder("utf-8").decode(bytes);
    const before = text.slice(0, text.indexOf("\uFFFD")).split(LINE_BREAK);
    throw new CsvFileError({ line: before.length, column: before.at(-1)!.length + 1, message: "not UTF-8 text (save the file as UTF-8)" });
  }
}

/** Parses a CSV file's text: rows to predict and rows that cannot be, by line. Throws CsvFileError when the file cannot be read at all. */
export function readCsv(text: string): CsvFile {
  let records: string[][];
  try {
    records = parse(text, { relax_column_count: true, skip_empty_lines: true });
  } catch (err) {
    const line = (err as { lines?: number }).lines ?? 1;
    throw new CsvFileError({ line, column: 1, message: `not valid CSV: ${(err as Error).message.replace(/\s+/g, " ")}` });
  }
  const first = records[0];
  if (first === undefined) {
    throw new CsvFileError({ line: 1, column: 1, message: `empty file: expected a header row naming ${FEATURES.join(", ")}` });
  }
  const locator = new CsvLocator(text.split(LINE_BREAK));
  const headerFields = locator.next(first.length);
  const header = first.map((n) => n.trim());
  const columnOf = new Map<string, number>();
  header.forEach((name, i) => {
    if ((FEATURES as readonly string[]).includes(name) || name === SPECIES) {
      if (columnOf.has(name)) throw new CsvFileError({ ...headerFields.starts[i]!, message: `duplicate column "${name}"` });
      columnOf.set(name, i);
    }
  });
  const missing = FEATURES.filter((n) => !columnOf.has(n));
  if (missing.length > 0) {
    const plural = missing.length > 1 ? "s" : "";
    throw new CsvFileError({
      line: headerFields.starts[0]!.line,
      column: 1,
      message: `missing column${plural} ${missing.map((m) => `"${m}"`).join(", ")} (the header has: ${header.join(", ")})`,
    });
  }
  if (records.length === 1) {
    throw new CsvFileError({ line: headerFields.end.line + 1, column: 1, message: "no data rows after the header" });
  }
  const featureColumns = FEATURES.map((f) => columnOf.get(f)!);
  const rows: CsvRow[] = [];
  const problems: CsvProblem[] = [];
  for (const record of records.slice(1)) {
    const { starts, end } = locator.next(record.length);
    const count = record.length;
    if (count < header.length) {
      const absent = header.slice(count).filter((name) => columnOf.has(name));
      const what = absent.length > 0 ? ` (no value for ${absent.map((m) => `"${m}"`).join(", ")})` : "";
      problems.push({ ...end, message: `short row: ${count} field${count === 1 ? "" : "s"}, expected ${header.length}${what}` });
      continue;
    }
    if (count > header.length) {
      problems.push({ ...starts[header.length]!, message: `long row: ${count} fields, expected ${header.length} (the header's count)` });
      continue;
    }
    const values: number[] = [];
    let bad = false;
    featureColumns.forEach((col, j) => {
      const cell = record[col]!.trim();
      const why = measurementTextProblem(cell);
      if (why !== undefined) {
        problems.push({ ...starts[col]!, message: `${FEATURES[j]} ${why}` });
        bad = true;
      } else {
        values.push(Number(cell));
      }
    });
    if (!bad) rows.push({ line: starts[0]!.line, values, cells: record });
  }
  return { header, speciesColumn: columnOf.get(SPECIES), rows, problems };
}

/** One CSV field, quoted when it must be. */
function field(text: string): string {
  return /[",\r\n]/.test(text) || text !== text.trim() ? `"${text.replace(/"/g, '""')}"` : text;
}

/** A CSV document (header and rows), CRLF line breaks as RFC 4180 says. */
export function writeCsv(header: readonly string[], rows: readonly (readonly (string | number)[])[]): string {
  return [header, ...rows].map((row) => row.map((v) => field(String(v))).join(",")).join("\r\n") + "\r\n";
}
