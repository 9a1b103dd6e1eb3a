/**
 * The web console reads a CSV file as the trainer does: the same rows,
 * values and line numbers from good files, and the same problems, at the
 * same line and column, in the same words, from bad ones. The trainer's
 * loader (src/training/dataset.ts) is the reference for every case here.
 */
import { readFile } from "node:fs/promises";
import { parse } from "csv-parse/sync";
import { describe, expect, it } from "vitest";
import { CsvFileError, decodeCsv, readCsv, writeCsv } from "../src/console/csv.js";
import { IrisError } from "../src/errors.js";
import { FEATURES } from "../src/model/index.js";
import { parseDataset } from "../src/training/index.js";

const SOURCE = "flowers.csv";

/** The trainer's problems with a file, as `file:line:column: description`. */
function trainerProblems(text: string | Buffer): string[] {
  try {
    parseDataset(text, SOURCE);
  } catch (err) {
    const e = err as IrisError;
    return e.violations.length > 0 ? e.violations.map((v) => `${v.field}: ${v.description}`) : [e.message];
  }
  return [];
}

/** The console's problems with a file, in the same form. */
function consoleProblems(bytes: Buffer): string[] {
  try {
    return readCsv(decodeCsv(bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.length) as ArrayBuffer)).problems.map(
      (p) => `${SOURCE}:${p.line}:${p.column}: ${p.message}`,
    );
  } catch (err) {
    if (!(err instanceof CsvFileError)) throw err;
    return [`${SOURCE}:${err.message}`];
  }
}

const HEADER = "sepal_length,sepal_width,petal_length,petal_width,species";

describe("the console's CSV reader agrees with the trainer's", () => {
  it("on data/iris.csv: every row, its values and its line", async () => {
    const text = await readFile(new URL("../data/iris.csv", import.meta.url), "utf8");
    const dataset = parseDataset(text, SOURCE);
    const file = readCsv(text);
    expect(file.problems).toEqual([]);
    expect(file.rows.map((r) => r.line)).toEqual(Array.from(dataset.lines));
    expect(file.rows.map((r) => r.values)).toEqual(Array.from({ length: dataset.rows }, (_, r) => Array.from(dataset.x.subarray(r * 4, r * 4 + 4))));
    expect(file.header[file.speciesColumn!]).toBe("species");
  });

  it("on columns in another order, quotes, CRLF, blank lines, a byte-order mark and a value spanning lines", () => {
    const text =
      '\uFEFFnote,petal_width,species,"sepal_length",sepal_width,petal_length\r\n' +
      '"first, with a comma",0.2,setosa,5.1,3.5,1.4\r\n' +
      "\r\n" +
      '"two\r\nlines",1.3,versicolor," 6.2 ",2.9,4.3\r\n' +
      'plain,2.3,virginica,6.7,3.0,"5.2"\r\n';
    const dataset = parseDataset(text, SOURCE);
    const file = readCsv(decodeCsv(new TextEncoder().encode(text).buffer));
    expect(file.problems).toEqual([]);
    expect(file.rows.map((r) => r.line)).toEqual(Array.from(dataset.lines));
    expect(file.rows.map((r) => r.values)).toEqual([
      Array.from(dataset.x.subarray(0, 4)),
      Array.from(dataset.x.subarray(4, 8)),
      Array.from(dataset.x.subarray(8, 12)),
    ]);
    expect(file.rows[1]!.cells[0]).toBe("two\r\nlines");
  });

  it("on rows with bad cells, short and long rows: each at its line and column, in the trainer's words", () => {
    const text = [
      HEADER,
      "5.1,abc,1.4,0.2,setosa",
      "5.1,3.5,NaN,0.2,setosa",
      "inf,3.5,1.4,0.2,setosa",
      "5.1,3.5,1e999,0.2,setosa",
      "5.1,3.5,1.4,-0.5,setosa",
      "5.1,,1.4,0.2,setosa",
      "",
      "6.3,2.9,5.6",
      "4.9,3.0,1.4,0.2,setosa,extra",
      '"4.9\n",3.0,0x10,0.2,setosa',
      "4.9 , 3.0 ,1.4,  1_0,setosa",
      "5.0,3.6,1.4,0.2,setosa",
    ].join("\n");
    const expected = trainerProblems(text);
    expect(expected).toHaveLength(10);
    expect(consoleProblems(Buffer.from(text))).toEqual(expected);
    // The good row is still predicted (the trainer would stop).
    expect(readCsv(text).rows.map((r) => [r.line, ...r.values])).toEqual([[14, 5.0, 3.6, 1.4, 0.2]]);
  });

  it.each([
    ["a header without a feature", "sepal_length,sepal_width,petal_length,species\n1,2,3,setosa\n"],
    ["a duplicate column", "sepal_length,sepal_width,petal_length,petal_width,sepal_width,species\n1,2,3,4,5,setosa\n"],
    ["no rows after the header", `${HEADER}\n`],
    ["a quote never closed", `${HEADER}\n5.1,3.5,1.4,0.2,setosa\n"5.1,3.5,1.4,0.2,setosa\n`],
  ])("on %s: the same message, at the same place", (_, text) => {
    const expected = trainerProblems(text);
    expect(expected).toHaveLength(1);
    expect(consoleProblems(Buffer.from(text))).toEqual(expected);
  });

  it("on bytes that are not UTF-8", () => {
    const bytes = Buffer.concat([Buffer.from(`${HEADER}\n5.1,3.5,1.4,0.2,set`), Buffer.from([0xe9]), Buffer.from("osa\n")]);
    expect(consoleProblems(bytes)).toEqual(trainerProblems(bytes));
  });

  it("unlike the trainer, needs no species column", () => {
    expect(consoleProblems(Buffer.from(""))).toEqual([`${SOURCE}:1:1: empty file: expected a header row naming ${FEATURES.join(", ")}`]);
    const file = readCsv("petal_width,petal_length,sepal_width,sepal_length\n0.2,1.4,3.5,5.1\n");
    expect(file.speciesColumn).toBeUndefined();
    expect(file.rows).toEqual([{ line: 2, values: [5.1, 3.5, 1.4, 0.2], cells: ["0.2", "1.4", "3.5", "5.1"] }]);
  });
});

describe("the console's CSV writer", () => {
  it("writes what csv-parse reads back unchanged", () => {
    const header = ["line", "note", "sepal_length", "probability_setosa"];
    const rows = [
      [2, "plain", 5.1, 0.9787973232495903],
      [3, 'a "quoted", comma', 4.9, 4.344871732594895e-8],
      [5, "two\r\nlines", 6.2, 1],
      [7, "  padded ", 0, 0],
    ];
    const text = writeCsv(header, rows);
    expect(text.endsWith("\r\n")).toBe(true);
    expect(parse(text)).toEqual([header, ...rows.map((r) => r.map(String))]);
  });
});
