import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Code, IrisError } from "../src/errors.js";
import { FEATURES } from "../src/model/index.js";
import { loadDataset, parseDataset } from "../src/training/index.js";

const HEADER = "sepal_length,sepal_width,petal_length,petal_width,species";

function csv(...lines: string[]): string {
  return `${lines.join("\n")}\n`;
}

/** The IrisError a CSV text raises. */
function failure(text: string): IrisError {
  try {
    parseDataset(text, "t.csv");
  } catch (err) {
    expect(err).toBeInstanceOf(IrisError);
    expect((err as IrisError).code).toBe(Code.INVALID_ARGUMENT);
    return err as IrisError;
  }
  throw new Error("expected the CSV to be rejected");
}

const message = (text: string) => failure(text).message;

describe("loading a good CSV", () => {
  it("finds columns by name in any order, ignores extra columns, sorts the classes", () => {
    const ds = parseDataset(
      "id,species,petal_width,petal_length,sepal_width,sepal_length\r\n" +
        "1,virginica,2.5,6.0,3.3,6.3\r\n" +
        "2,setosa,0.2,1.4,3.5,5.1\r\n" +
        '3,"versicolor",1.3,4.0,2.8,5.5\r\n',
      "t.csv",
    );
    expect(ds.featureNames).toEqual(FEATURES);
    expect(ds.classes).toEqual(["setosa", "versicolor", "virginica"]);
    expect(Array.from(ds.y)).toEqual([2, 0, 1]);
    expect(Array.from(ds.x.subarray(0, 4))).toEqual([6.3, 3.3, 6.0, 2.5]);
    expect(Array.from(ds.x.subarray(4, 8))).toEqual([5.1, 3.5, 1.4, 0.2]);
    expect(Array.from(ds.lines)).toEqual([2, 3, 4]);
    expect(ds.rows).toBe(3);
  });

  it("loads data/iris.csv: 150 rows, 50 per species, its known checksum", async () => {
    const ds = await loadDataset("data/iris.csv");
    expect(ds.rows).toBe(150);
    expect(ds.classes).toEqual(["setosa", "versicolor", "virginica"]);
    expect([0, 1, 2].map((k) => ds.y.filter((v) => v === k).length)).toEqual([50, 50, 50]);
    expect(ds.sha256).toBe("9cc1c345c71bcc9b486b74cbf6063fa66f4bb5e0f603a4b3c3471ec2e5e8e355");
  });

  it("accepts a byte-order mark, blank lines and trailing spaces", () => {
    const ds = parseDataset(`\uFEFF${csv(HEADER, "5.1, 3.5 ,1.4,0.2,setosa", "", "6.2,2.9,4.3,1.3, versicolor ")}`, "t.csv");
    expect(ds.classes).toEqual(["setosa", "versicolor"]);
    expect(Array.from(ds.lines)).toEqual([2, 4]);
    expect(ds.x[1]).toBe(3.5);
  });
});

describe("each CSV problem names file:line:column", () => {
  it("a value that is not a number", () => {
    expect(message(csv(HEADER, "5.1,3.5,1.4,0.2,setosa", "4.9,abc,1.4,0.2,versicolor"))).toBe(
      't.csv:3:5: sepal_width must be a number, got "abc"',
    );
  });

  it("NaN and infinities", () => {
    expect(message(csv(HEADER, "NaN,3.5,1.4,0.2,setosa", "4.9,3,1.4,0.2,versicolor"))).toBe(
      't.csv:2:1: sepal_length must be a finite number, got "NaN"',
    );
    expect(message(csv(HEADER, "5.1,3.5,inf,0.2,setosa", "4.9,3,1.4,0.2,versicolor"))).toBe(
      't.csv:2:9: petal_length must be a finite number, got "inf"',
    );
    expect(message(csv(HEADER, "5.1,3.5,1.4,0.2,setosa", "4.9,3,1.4,-Infinity,versicolor"))).toBe(
      't.csv:3:11: petal_width must be a finite number, got "-Infinity"',
    );
    expect(message(csv(HEADER, "5.1,3.5,1e999,0.2,setosa", "4.9,3,1.4,0.2,versicolor"))).toBe(
      't.csv:2:9: petal_length must be a finite number, got "1e999"',
    );
  });

  it("a negative measurement", () => {
    expect(message(csv(HEADER, "5.1,3.5,1.4,-1.0,setosa", "4.9,3,1.4,0.2,versicolor"))).toBe(
      "t.csv:2:13: petal_width must be >= 0 cm, got -1",
    );
  });

  it("an empty value, and hexadecimal (which Number() would accept)", () => {
    expect(message(csv(HEADER, "5.1,,1.4,0.2,setosa", "4.9,3,1.4,0.2,versicolor"))).toBe("t.csv:2:5: sepal_width is empty");
    expect(message(csv(HEADER, "0x10,3.5,1.4,0.2,setosa", "4.9,3,1.4,0.2,versicolor"))).toBe(
      't.csv:2:1: sepal_length must be a number, got "0x10"',
    );
  });

  it("an empty species", () => {
    expect(message(csv(HEADER, "5.1,3.5,1.4,0.2,", "4.9,3,1.4,0.2,versicolor"))).toBe("t.csv:2:17: species is empty");
  });

  it("a missing column", () => {
    expect(message(csv("sepal_length,sepal_width,petal_length,species", "5.1,3.5,1.4,setosa"))).toBe(
      't.csv:1:1: missing column "petal_width" (the header has: sepal_length, sepal_width, petal_length, species)',
    );
    expect(message(csv("a,b", "1,2"))).toMatch(/^t\.csv:1:1: missing columns "sepal_length", .*"species"/);
  });

  it("a duplicate column", () => {
    expect(message(csv(`sepal_length,${HEADER}`, "1,5.1,3.5,1.4,0.2,setosa"))).toBe(
      't.csv:1:14: duplicate column "sepal_length"',
    );
  });

  it("a short row", () => {
    expect(message(csv(HEADER, "5.1,3.5,1.4,0.2,setosa", "4.9,3.0,1.4,0.2"))).toBe(
      't.csv:3:16: short row: 4 fields, expected 5 (no value for "species")',
    );
  });

  it("a long row", () => {
    expect(message(csv(HEADER, "5.1,3.5,1.4,0.2,setosa,9", "4.9,3.0,1.4,0.2,versicolor"))).toBe(
      "t.csv:2:24: long row: 6 fields, expected 5 (the header's count)",
    );
  });

  it("an empty file, and a header without rows", () => {
    expect(message("")).toMatch(/^t\.csv:1:1: empty file: expected a header row naming sepal_length, /);
    expect(message("\n\n")).toMatch(/^t\.csv:1:1: empty file/);
    expect(message(csv(HEADER))).toBe("t.csv:2:1: no data rows after the header");
  });

  it("a single class", () => {
    expect(message(csv(HEADER, "5.1,3.5,1.4,0.2,setosa", "4.9,3.0,1.4,0.2,setosa"))).toBe(
      't.csv:2:17: only one species ("setosa") in 2 rows: at least 2 classes are needed',
    );
  });

  it("counts lines as an editor does: after blank lines, quoted line breaks, CRLF and a BOM", () => {
    const text = `\uFEFF${HEADER}\r\n5.1,3.5,1.4,0.2,"set\r\nosa"\r\n\r\n"4.9",x,1.4,0.2,versicolor\r\n`;
    expect(message(text)).toBe('t.csv:5:7: sepal_width must be a number, got "x"');
  });

  it("reports the first problem and how many more; all are in the violations", () => {
    const err = failure(csv(HEADER, "a,3.5,1.4,0.2,setosa", "4.9,b,1.4,0.2,versicolor", "4.9,3,1.4"));
    expect(err.message).toBe('t.csv:2:1: sepal_length must be a number, got "a" (and 2 more problems)');
    expect(err.violations.map((v) => v.field)).toEqual(["t.csv:2:1", "t.csv:3:5", "t.csv:4:10"]);
  });

  it("bytes that are not UTF-8 (a Latin-1 export), instead of silently replacing them", () => {
    const latin1 = Buffer.concat([
      Buffer.from(`${HEADER}\r\n5.1,3.5,1.4,0.2,setosa\r\n6.2,2.9,4.3,1.3,s`),
      Buffer.from([0xe9]), // é in Latin-1
      Buffer.from("tosa\r\n"),
    ]);
    expect(() => parseDataset(latin1, "t.csv")).toThrow("t.csv:3:18: not UTF-8 text (save the file as UTF-8)");
  });

  it("malformed CSV (an unclosed quote)", () => {
    expect(message(csv(HEADER, "5.1,3.5,1.4,0.2,setosa", '4.9,3,1.4,0.2,"versicolor'))).toMatch(
      /^t\.csv:3:1: not valid CSV: /,
    );
  });
});

describe("reading files", () => {
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), "iris-dataset-"));
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it("a missing file", async () => {
    await expect(loadDataset(join(dir, "nope.csv"))).rejects.toThrow(`${join(dir, "nope.csv")}: cannot read data file: file not found`);
  });

  it("a directory", async () => {
    await expect(loadDataset(dir)).rejects.toThrow(`${dir}: cannot read data file: is a directory`);
  });

  it("names the file as given in every message", async () => {
    const path = join(dir, "bad.csv");
    await writeFile(path, csv(HEADER, "5.1,3.5,1.4,0.2,setosa", "4.9,3.0,1.4,zero,versicolor"));
    await expect(loadDataset(path)).rejects.toThrow(`${path}:3:13: petal_width must be a number, got "zero"`);
  });
});
