/**
 * Reading a CSV file of flowers in the browser, as the trainer reads its
 * data (src/training/dataset.ts): the same parser (csv-parse, with the
 * trainer's options), the same header rule (columns found by name, in any
 * order), the same number rule and the same words, each problem at its
 * `line:column` as an editor shows it. Unlike the trainer, the file needs
 * no `species` column (when it has one, it is kept for comparison), and a
 * bad row does not stop the others: every good row is predicted, every
 * bad one is reported.
 */
import { parse } from "csv-parse/browser/esm/sync";
import { FEATURES, parseDecimal } from "../model/features.js";
import { measurementProblem } from "../model/model.js";

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

const NON_FINITE = /^[+-]?(?:nan|inf|infinity)$/i;
const LINE_BREAK = /\r\n|\r|\n/g;

/** Why a cell is not a usable measurement (the trainer's words), or undefined. */
function numberProblem(raw: string): string | undefined {
  if (raw === "") return "is empty";
  if (NON_FINITE.test(raw)) return `must be a finite number, got "${raw}"`;
  const value = parseDecimal(raw);
  if (Number.isNaN(value)) return `must be a number, got "${raw}"`;
  if (!Number.isFinite(value)) return `must be a finite number, got "${raw}"`;
  return measurementProblem(value);
}

interface Position {
  line: number;
  column: number;
}

/**
 * Where each field of a record starts, from its raw text (csv-parse's
 * `raw`: any empty lines skipped before it, the record, its line break)
 * and the line it ends on.
 */
function fieldStarts(raw: string, endLine: number): Position[] {
  const body = raw.replace(/(\r\n|\r|\n)$/, "");
  const text = body.replace(/^(?:\r\n|\r|\n)+/, "");
  let line = endLine - (text.match(LINE_BREAK)?.length ?? 0);
  let column = 1;
  const starts: Position[] = [{ line, column }];
  let quoted = false;
  for (let i = 0; i < text.length; i++) {
    const c = text[i]!;
    if (c === '"') quoted = !quoted;
    else if (c === "," && !quoted) starts.push({ line, column: column + 1 });
    if (c === "\n" || (c === "\r" && text[i + 1] !== "\n")) {
      line++;
      column = 1;
    } else if (c !== "\r") {
      column++;
    }
  }
  return starts;
}

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

interface Parsed {
  record: string[];
  raw: string;
  info: { lines: number };
}

/** Parses a CSV file's text: rows to predict and rows that cannot be, by line. Throws CsvFileError when the file cannot be read at all. */
export function readCsv(text: string): CsvFile {
  let records: Parsed[];
  try {
    records = parse(text, { relax_column_count: true, skip_empty_lines: true, info: true, raw: true }) as unknown as Parsed[];
  } catch (err) {
    const line = (err as { lines?: number }).lines ?? 1;
    throw new CsvFileError({ line, column: 1, message: `not valid CSV: ${(err as Error).message.replace(/\s+/g, " ")}` });
  }
  const first = records[0];
  if (first === undefined) {
    throw new CsvFileError({ line: 1, column: 1, message: `empty file: expected a header row naming ${FEATURES.join(", ")}` });
  }
  const headerStarts = fieldStarts(first.raw, first.info.lines);
  const header = first.record.map((n) => n.trim());
  const columnOf = new Map<string, number>();
  header.forEach((name, i) => {
    if ((FEATURES as readonly string[]).includes(name) || name === SPECIES) {
      if (columnOf.has(name)) throw new CsvFileError({ ...headerStarts[i]!, message: `duplicate column "${name}"` });
      columnOf.set(name, i);
    }
  });
  const missing = FEATURES.filter((n) => !columnOf.has(n));
  if (missing.length > 0) {
    const plural = missing.length > 1 ? "s" : "";
    throw new CsvFileError({
      line: headerStarts[0]!.line,
      column: 1,
      message: `missing column${plural} ${missing.map((m) => `"${m}"`).join(", ")} (the header has: ${header.join(", ")})`,
    });
  }
  if (records.length === 1) {
    throw new CsvFileError({ line: first.info.lines + 1, column: 1, message: "no data rows after the header" });
  }
  const featureColumns = FEATURES.map((f) => columnOf.get(f)!);
  const rows: CsvRow[] = [];
  const problems: CsvProblem[] = [];
  for (const { record, raw, info } of records.slice(1)) {
    const starts = fieldStarts(raw, info.lines);
    const line = starts[0]!.line;
    const count = record.length;
    if (count < header.length) {
      const absent = header.slice(count).filter((name) => columnOf.has(name));
      const what = absent.length > 0 ? ` (no value for ${absent.map((m) => `"${m}"`).join(", ")})` : "";
      const last = raw.replace(/(\r\n|\r|\n)$/, "").split(LINE_BREAK).at(-1)!;
      problems.push({ line: info.lines, column: last.length + 1, message: `short row: ${count} field${count === 1 ? "" : "s"}, expected ${header.length}${what}` });
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
      const why = numberProblem(cell);
      if (why !== undefined) {
        problems.push({ ...starts[col]!, message: `${FEATURES[j]} ${why}` });
        bad = true;
      } else {
        values.push(Number(cell));
      }
    });
    if (!bad) rows.push({ line, values, cells: record });
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
