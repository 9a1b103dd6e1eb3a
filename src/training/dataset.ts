/**
 * Loading the training data: a CSV file with a header row, the four
 * measurements and the species, columns found by name in any order.
 *
 * Every problem is reported as `file:line:column: message`, with line and
 * column 1-based as a text editor shows them (the header is line 1), and
 * raised as an INVALID_ARGUMENT IrisError (CLI exit code 2).
 */
import { createHash } from "node:crypto";
import { readFile } from "node:fs/promises";
import { parse } from "csv-parse/sync";
import { Code, fileProblem, IrisError, type FieldViolation } from "../errors.js";
import { CsvLocator, measurementTextProblem, type CsvPosition as Position } from "../model/csv-locator.js";
import { FEATURES } from "../model/index.js";

/** The label column (the measurement columns are the model's FEATURES). */
const LABEL = "species";

/** A loaded data set: features row-major, labels as class indices. */
export interface Dataset {
  /** The file as named by the caller (used in messages and provenance). */
  source: string;
  /** SHA-256 (hex) of the file's bytes. */
  sha256: string;
  featureNames: readonly string[];
  /** Sorted unique labels (scikit-learn's class order); index = class index. */
  classes: string[];
  rows: number;
  /** rows × features, row-major. */
  x: Float64Array;
  /** Class index of each row. */
  y: Int32Array;
  /** The 1-based line on which each row starts. */
  lines: Int32Array;
}

/** How many problems a message lists before summarising the rest. */
const MAX_REPORTED = 20;
const LINE_BREAK = /\r\n|\r|\n/g;

/** Reads and parses a CSV file; `path` is how messages name it. */
export async function loadDataset(path: string): Promise<Dataset> {
  let bytes: Buffer;
  try {
    bytes = await readFile(path);
  } catch (err) {
    throw new IrisError(Code.INVALID_ARGUMENT, `${path}: cannot read data file: ${fileProblem(err)}`, { cause: err });
  }
  return parseDataset(bytes, path);
}

/** Parses CSV bytes (UTF-8); `source` names the file in messages. */
export function parseDataset(bytes: Buffer | string, source: string): Dataset {
  const buffer = typeof bytes === "string" ? Buffer.from(bytes, "utf8") : bytes;
  const sha256 = createHash("sha256").update(buffer).digest("hex");
  const text = decodeUtf8(buffer, source);
  const lines = text.split(LINE_BREAK);

  let records: string[][];
  try {
    records = parse(text, { relax_column_count: true, skip_empty_lines: true });
  } catch (err) {
    const line = (err as { lines?: number }).lines ?? 1;
    const message = (err as Error).message.replace(/\s+/g, " ");
    throw new IrisError(Code.INVALID_ARGUMENT, `${source}:${line}:1: not valid CSV: ${message}`, { cause: err });
  }
  const at = (p: Position) => `${source}:${p.line}:${p.column}`;
  const fail = (p: Position, message: string): never => {
    throw new IrisError(Code.INVALID_ARGUMENT, `${at(p)}: ${message}`);
  };

  const header = records[0];
  if (header === undefined) {
    fail({ line: 1, column: 1 }, `empty file: expected a header row naming ${[...FEATURES, LABEL].join(", ")}`);
  }
  const locator = new CsvLocator(lines);
  const headerFields = locator.next(header!.length);
  const names = header!.map((n) => n.trim());
  const columnOf = new Map<string, number>();
  names.forEach((name, i) => {
    if ((FEATURES as readonly string[]).includes(name) || name === LABEL) {
      if (columnOf.has(name)) fail(headerFields.starts[i]!, `duplicate column "${name}"`);
      columnOf.set(name, i);
    }
  });
  const missing = [...FEATURES, LABEL].filter((n) => !columnOf.has(n));
  if (missing.length > 0) {
    const plural = missing.length > 1 ? "s" : "";
    fail(
      { line: headerFields.starts[0]!.line, column: 1 },
      `missing column${plural} ${missing.map((m) => `"${m}"`).join(", ")} (the header has: ${names.join(", ")})`,
    );
  }
  const featureColumns = FEATURES.map((f) => columnOf.get(f)!);
  const labelColumn = columnOf.get(LABEL)!;

  const dataRecords = records.slice(1);
  if (dataRecords.length === 0) {
    fail({ line: headerFields.end.line + 1, column: 1 }, "no data rows after the header");
  }

  const n = dataRecords.length;
  const d = FEATURES.length;
  const x = new Float64Array(n * d);
  const labels: string[] = new Array<string>(n);
  const rowLines = new Int32Array(n);
  const labelPositions: Position[] = new Array<Position>(n);
  const problems: FieldViolation[] = [];
  const problem = (p: Position, message: string) => problems.push({ field: at(p), description: message });

  dataRecords.forEach((rec, r) => {
    const fields = locator.next(rec.length);
    rowLines[r] = fields.starts[0]!.line;
    const count = rec.length;
    if (count < names.length) {
      const absent = names.slice(count).filter((name) => columnOf.has(name));
      const what = absent.length > 0 ? ` (no value for ${absent.map((m) => `"${m}"`).join(", ")})` : "";
      problem(fields.end, `short row: ${count} field${count === 1 ? "" : "s"}, expected ${names.length}${what}`);
      return;
    }
    if (count > names.length) {
      problem(fields.starts[names.length]!, `long row: ${count} fields, expected ${names.length} (the header's count)`);
      return;
    }
    featureColumns.forEach((col, j) => {
      const raw = rec[col]!.trim();
      const why = measurementTextProblem(raw);
      if (why !== undefined) problem(fields.starts[col]!, `${FEATURES[j]} ${why}`);
      else x[r * d + j] = Number(raw);
    });
    const label = rec[labelColumn]!.trim();
    if (label === "") problem(fields.starts[labelColumn]!, `${LABEL} is empty`);
    labels[r] = label;
    labelPositions[r] = fields.starts[labelColumn]!;
  });

  if (problems.length > 0) {
    const [first] = problems;
    const more = problems.length > 1 ? ` (and ${problems.length - 1} more problem${problems.length > 2 ? "s" : ""})` : "";
    throw new IrisError(Code.INVALID_ARGUMENT, `${first!.field}: ${first!.description}${more}`, {
      violations: problems.slice(0, MAX_REPORTED),
    });
  }

  const classes = [...new Set(labels)].sort();
  if (classes.length < 2) {
    fail(labelPositions[0]!, `only one ${LABEL} ("${classes[0]}") in ${n} rows: at least 2 classes are needed`);
  }
  const index = new Map(classes.map((c, i) => [c, i]));
  const y = Int32Array.from(labels, (l) => index.get(l)!);
  return { source, sha256, featureNames: FEATURES, classes, rows: n, x, y, lines: rowLines };
}

/**
 * The file's text, without a byte-order mark (so columns count from the
 * first visible character). Bytes that are not UTF-8 (a Latin-1 export, say)
 * are an error at their line and column, not silently replaced.
 */
function decodeUtf8(buffer: Buffer, source: string): string {
  try {
    return new TextDecoder("utf-8", { fatal: true }).decode(buffer);
  } catch {
    const text = new TextDecoder("utf-8").decode(buffer);
    const before = text.slice(0, text.indexOf("\uFFFD")).split(LINE_BREAK);
    const at = `${source}:${before.length}:${before.at(-1)!.length + 1}`;
    throw new IrisError(Code.INVALID_ARGUMENT, `${at}: not UTF-8 text (save the file as UTF-8)`);
  }
}
