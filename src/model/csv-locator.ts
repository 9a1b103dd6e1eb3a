/**
 * Reading measurements from CSV text, as every reader of such files in the
 * project does (the trainer's data loader, src/training/dataset.ts, and the
 * web console's batch reader, src/console/csv.ts): where each field of a
 * record starts, as an editor shows it, and what is wrong with a cell. Pure:
 * text in, positions and words out.
 */
import { parseDecimal } from "./features.js";
import { measurementProblem } from "./model.js";

/** A 1-based position in the text, as an editor shows it. */
export interface CsvPosition {
  line: number;
  column: number;
}

const NON_FINITE = /^[+-]?(?:nan|inf|infinity)$/i;

/**
 * Why a measurement as typed in a CSV cell (trimmed) is not acceptable, in
 * the words every reader of such files uses, or undefined when it is.
 */
export function measurementTextProblem(raw: string): string | undefined {
  if (raw === "") return "is empty";
  if (NON_FINITE.test(raw)) return `must be a finite number, got "${raw}"`;
  const value = parseDecimal(raw);
  if (Number.isNaN(value)) return `must be a number, got "${raw}"`;
  if (!Number.isFinite(value)) return `must be a finite number, got "${raw}"`;
  return measurementProblem(value);
}

/**
 * Finds where each record's fields start, in editor coordinates, by walking
 * the text alongside csv-parse's records: skip the empty lines csv-parse
 * skips, then scan the record's fields quote-aware (a quoted value may span
 * lines) up to the end of its last line.
 */
export class CsvLocator {
  private line = 0;

  constructor(private readonly lines: string[]) {}

  next(fieldCount: number): { starts: CsvPosition[]; end: CsvPosition } {
    const { lines } = this;
    while (this.line < lines.length - 1 && lines[this.line] === "") this.line++;
    let line = this.line;
    let col = 0;
    const current = () => lines[line] ?? "";
    const starts: CsvPosition[] = [];
    for (let f = 0; f < fieldCount; f++) {
      starts.push({ line: line + 1, column: col + 1 });
      if (current()[col] === '"') {
        col++;
        for (;;) {
          if (col >= current().length) {
            if (line + 1 >= lines.length) break;
            line++;
            col = 0;
          } else if (current()[col] === '"') {
            if (current()[col + 1] !== '"') {
              col++;
              break;
            }
            col += 2;
          } else col++;
        }
      }
      while (col < current().length && current()[col] !== ",") col++;
      if (current()[col] === ",") col++;
    }
    this.line = line + 1;
    return { starts, end: { line: line + 1, column: current().length + 1 } };
  }
}
