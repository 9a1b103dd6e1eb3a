/**
 * `iris train` and `iris predict` end to end, as subprocesses of the real
 * CLI: train into a temp dir, predict from it, and every error's exit code.
 */
import { execFile, spawn } from "node:child_process";
import { mkdir, mkdtemp, readdir, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { modelVersion } from "../src/model/index.js";

const REPO = fileURLToPath(new URL("../", import.meta.url));
const MODEL_FILES = ["metrics.json", "model.json", "report.html", "report.md"];

interface Result {
  code: number;
  stdout: string;
  stderr: string;
}

const ENV = { SOURCE_DATE_EPOCH: "", IRIS_MODEL: "" };

/** Runs `iris ...args` from the repository root, `stdin` (if any) as its input; never rejects. */
function iris(args: string[], env: Record<string, string> = {}, stdin?: string): Promise<Result> {
  return new Promise((resolve) => {
    const child = execFile(
      process.execPath,
      ["--import", "tsx", "src/cli/main.ts", ...args],
      { cwd: REPO, env: { ...process.env, ...ENV, ...env }, maxBuffer: 64 * 1024 * 1024 },
      (error, stdout, stderr) => {
        const code = error ? (typeof error.code === "number" ? error.code : -1) : 0;
        resolve({ code, stdout, stderr });
      },
    );
    child.stdin!.end(stdin ?? "");
  });
}

let dir: string;
let out: string;
let trained: Result;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "iris-cli-"));
  out = join(dir, "artifacts");
  trained = await iris(["train", "--out", out]);
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe("iris train", () => {
  it("trains, writes the artifacts and prints a summary", async () => {
    expect(trained.stderr).toBe("");
    expect(trained.code).toBe(0);
    expect((await readdir(out)).sort()).toEqual(MODEL_FILES);
    const model = JSON.parse(await readFile(join(out, "model.json"), "utf8")) as { version: string };
    const lines = trained.stdout.trimEnd().split("\n");
    expect(lines.map((l) => l.trim().split(/\s+/)[0])).toEqual([
      "model",
      "data",
      "split",
      "optimizer",
      "held-out",
      "cross-val",
      "wrote",
    ]);
    expect(trained.stdout).toContain(`iris-logreg ${model.version}`);
    expect(trained.stdout).toMatch(/data\s+data\/iris\.csv: 150 rows, 3 classes/);
    expect(trained.stdout).toMatch(/split\s+120 train \/ 30 test \(stratified, seed 42\)/);
    expect(trained.stdout).toMatch(/optimizer\s+Newton, \d+ iterations, gradient norm \S+, converged/);
    expect(trained.stdout).toMatch(/held-out\s+accuracy \d\.\d{4} \(\d+\/30\), macro-F1 \d\.\d{4}, log-loss \d\.\d{4}/);
    expect(trained.stdout).toMatch(/cross-val\s+accuracy \d\.\d{4} ± \d\.\d{4} \(5 folds, mean ± population std\)/);
    expect(trained.stdout).toContain(join(out, "model.json"));
  });

  it("gives byte-identical files on a second run", async () => {
    const again = join(dir, "again");
    const second = await iris(["train", "--out", again]);
    expect(second.code).toBe(0);
    for (const name of MODEL_FILES) {
      expect(await readFile(join(again, name)), name).toEqual(await readFile(join(out, name)));
    }
  });

  it("honours SOURCE_DATE_EPOCH and the other flags", async () => {
    const custom = join(dir, "custom");
    const r = await iris(
      ["train", "--out", custom, "--c", "10", "--test-fraction", "0", "--seed", "3", "--folds", "4", "--max-iter", "50", "--tol", "1e-9"],
      { SOURCE_DATE_EPOCH: "1700000000" },
    );
    expect(r.stderr).toBe("");
    expect(r.code).toBe(0);
    expect(r.stdout).toContain("held-out   none (--test-fraction 0)");
    const model = JSON.parse(await readFile(join(custom, "model.json"), "utf8")) as Record<string, unknown>;
    expect(model.createdAt).toBe("2023-11-14T22:13:20.000Z");
    expect(model.hyperparameters).toEqual({ C: 10, penalty: "l2", maxIter: 50, tol: 1e-9, testFraction: 0, seed: 3, folds: 4 });
  });

  it("warns on stderr when the optimizer does not converge", async () => {
    const r = await iris(["train", "--out", join(dir, "unconverged"), "--max-iter", "1"]);
    expect(r.code).toBe(0);
    expect(r.stderr).toMatch(/^iris train: warning: the optimizer did not converge in 1 iteration \(/);
    expect(r.stdout).toMatch(/optimizer\s+Newton, 1 iteration, gradient norm \S+, NOT converged/);
  });

  it("the --min-accuracy gate fails with exit 1 and leaves the output directory untouched", async () => {
    const gated = join(dir, "gated");
    await mkdir(gated);
    await writeFile(join(gated, "model.json"), "previous model\n");
    const r = await iris(["train", "--out", gated, "--seed", "7", "--test-fraction", "0.4", "--min-accuracy", "0.95"]);
    expect(r.code).toBe(1);
    expect(r.stderr).toBe(
      "iris train: held-out accuracy 0.9333 (56/60) is below --min-accuracy 0.95; nothing was written\n",
    );
    expect(r.stdout).toBe("");
    expect(await readdir(gated)).toEqual(["model.json"]);
    expect(await readFile(join(gated, "model.json"), "utf8")).toBe("previous model\n");
    // At or above the bar it passes.
    const ok = await iris(["train", "--out", gated, "--seed", "7", "--test-fraction", "0.4", "--min-accuracy", "0.9"]);
    expect(ok.code).toBe(0);
  });

  it("--out naming a file: exit 2 before training, the file untouched", async () => {
    const file = join(dir, "not-a-dir");
    await writeFile(file, "mine\n");
    const r = await iris(["train", "--out", file]);
    expect(r.code).toBe(2);
    expect(r.stderr).toBe(`iris train: --out ${file} is a file, not a directory\n`);
    expect(r.stdout).toBe("");
    expect(await readFile(file, "utf8")).toBe("mine\n");
  });

  it("reads CSV as exported by other tools: BOM, CRLF, quotes, other columns, any order, trailing blank lines", async () => {
    const text = await readFile(join(REPO, "data", "iris.csv"), "utf8");
    const [header, ...rows] = text.trimEnd().split("\n");
    const order = [4, 2, 0, 3, 1];
    const line = (fields: string[], extra: string) => `${order.map((i) => fields[i]).join(",")},${extra}`;
    const exported =
      `\uFEFF${line(header!.split(","), "note")}\r\n` +
      rows.map((r, i) => line(r.split(",").map((f, j) => (j === 4 ? `"${f}"` : f)), `"row ${i}, ok"`)).join("\r\n") +
      "\r\n\r\n\r\n";
    const csv = join(dir, "exported.csv");
    await writeFile(csv, exported);
    const r = await iris(["train", "--data", csv, "--out", join(dir, "exported")]);
    expect(r.stderr).toBe("");
    expect(r.code).toBe(0);
    const model = JSON.parse(await readFile(join(out, "model.json"), "utf8")) as { version: string };
    expect(r.stdout).toContain(`iris-logreg ${model.version}`);
  });

  it("bad data: exit 2 with file:line:column, nothing written", async () => {
    const csv = join(dir, "bad.csv");
    await writeFile(
      csv,
      "sepal_length,sepal_width,petal_length,petal_width,species\n5.1,3.5,1.4,0.2,setosa\n6.2,2.9,-4.3,1.3,versicolor\n",
    );
    const target = join(dir, "never");
    const r = await iris(["train", "--data", csv, "--out", target]);
    expect(r.code).toBe(2);
    expect(r.stderr).toBe(`iris train: ${csv}:3:9: petal_length must be >= 0 cm, got -4.3\n`);
    await expect(readdir(target)).rejects.toMatchObject({ code: "ENOENT" });
  });

  it.each([
    [["--c", "0"], "iris train: --c must be > 0, got 0\n"],
    [["--c", "lots"], 'iris train: --c must be a number, got "lots"\n'],
    [["--test-fraction", "1"], "iris train: --test-fraction must be >= 0 and < 1, got 1\n"],
    [["--folds", "2.5"], 'iris train: --folds must be a whole number, got "2.5"\n'],
    [
      ["--min-accuracy", "0.9", "--test-fraction", "0"],
      "iris train: --min-accuracy needs held-out rows: it cannot be used with --test-fraction 0\n",
    ],
    [["--data", "no/such.csv"], "iris train: no/such.csv: cannot read data file: file not found\n"],
    [["--bogus"], /^iris train: Unknown option '--bogus'/],
    // A negative value is read as the flag's value and range-checked, not "ambiguous".
    [["--c", "-1"], "iris train: --c must be > 0, got -1\n"],
    [["--seed", "-1"], "iris train: --seed must be a whole number from 0 to 4294967295, got -1\n"],
    // Number() would read these as 42 and 16.
    [["--seed", "0x2A"], 'iris train: --seed must be a number, got "0x2A"\n'],
    [["--test-fraction", "0x10"], 'iris train: --test-fraction must be a number, got "0x10"\n'],
    // So large that the Hessian overflows float64: this used to loop forever.
    [
      ["--c", "1e306"],
      "iris train: the fit overflows float64 after 0 Newton steps (--c 1e+306, largest measurement 7.9 cm in data/iris.csv): " +
        "use a smaller --c, or rescale the data\n",
    ],
  ])("usage error %j: exit 2", async (args, message) => {
    const target = join(dir, `usage-${args.join("_").replace(/[^a-z0-9_.-]/gi, "")}`);
    const r = await iris(["train", "--out", target, ...args]);
    expect(r.code).toBe(2);
    if (typeof message === "string") expect(r.stderr).toBe(message);
    else expect(r.stderr).toMatch(message);
    await expect(readdir(target)).rejects.toMatchObject({ code: "ENOENT" });
  });
});

describe("iris predict", () => {
  const predict = (...args: string[]) => iris(["predict", "--model", join(out, "model.json"), ...args]);

  it('prints {"prediction":[0]} first, as run_model.py did', async () => {
    const r = await predict("--input", "[5.1,3.5,1.4,0.2]");
    expect(r.stderr).toBe("");
    expect(r.code).toBe(0);
    expect(r.stdout.startsWith('{"prediction":[0],')).toBe(true);
    expect(r.stdout.endsWith("}\n")).toBe(true);
    expect(r.stdout.split("\n")).toHaveLength(2);
    const json = JSON.parse(r.stdout) as { prediction: number[]; species: string[]; probabilities: number[][]; model: string };
    expect(Object.keys(json)).toEqual(["prediction", "species", "probabilities", "model"]);
    expect(json.species).toEqual(["setosa"]);
    expect(json.probabilities[0]!.reduce((s, v) => s + v, 0)).toBeCloseTo(1, 12);
    const model = JSON.parse(await readFile(join(out, "model.json"), "utf8")) as { version: string };
    expect(json.model).toBe(model.version);
  });

  it("classifies several rows", async () => {
    const r = await predict("--input", "[[5.1,3.5,1.4,0.2],[6.2,2.9,4.3,1.3],[7.7,3.0,6.1,2.3]]");
    expect(r.code).toBe(0);
    const json = JSON.parse(r.stdout) as { prediction: number[]; species: string[] };
    expect(json.prediction).toEqual([0, 1, 2]);
    expect(json.species).toEqual(["setosa", "versicolor", "virginica"]);
  });

  it.each([
    ["[5.1,3.5,1.4", /^iris predict: --input is not valid JSON: /],
    ["[5.1,3.5,1.4]", "iris predict: --input has 3 values, expected 4 (sepal_length, sepal_width, petal_length, petal_width)\n"],
    ["[[5.1,3.5,1.4,0.2],[1,2,3]]", /^iris predict: --input row 1 has 3 values, expected 4/],
    ['[5.1,"3.5",1.4,0.2]', 'iris predict: --input: sepal_width must be a number, got "3.5"\n'],
    ["[5.1,3.5,-1.4,0.2]", "iris predict: --input: petal_length must be >= 0 cm, got -1.4\n"],
    ["[5.1,3.5,1.4,1e999]", "iris predict: --input: petal_width must be finite, got Infinity\n"],
    ["[]", /^iris predict: --input must be a non-empty JSON array/],
    ['{"a":1}', /^iris predict: --input must be a non-empty JSON array/],
  ])("bad --input %s: one line, exit 2", async (input, message) => {
    const r = await predict("--input", input);
    expect(r.code).toBe(2);
    expect(r.stdout).toBe("");
    expect(r.stderr.split("\n")).toHaveLength(2);
    if (typeof message === "string") expect(r.stderr).toBe(message);
    else expect(r.stderr).toMatch(message);
  });

  it("--input - reads the rows from stdin: 100 000 rows, more than a command line can hold", async () => {
    const rows = Array.from({ length: 100_000 }, (_, i) => (i % 2 === 0 ? [5.1, 3.5, 1.4, 0.2] : [7.7, 3.0, 6.1, 2.3]));
    const r = await iris(["predict", "--model", join(out, "model.json"), "--input", "-"], {}, JSON.stringify(rows));
    expect(r.stderr).toBe("");
    expect(r.code).toBe(0);
    const json = JSON.parse(r.stdout) as { prediction: number[]; probabilities: number[][] };
    expect(json.prediction).toHaveLength(100_000);
    expect(json.prediction.slice(0, 4)).toEqual([0, 2, 0, 2]);
    expect(json.probabilities[99_999]).toEqual(json.probabilities[1]);

    const empty = await iris(["predict", "--model", join(out, "model.json"), "--input", "-"], {}, "");
    expect(empty.code).toBe(2);
    expect(empty.stderr).toMatch(/^iris predict: --input is empty: give a JSON array/);
  });

  it("ends quietly when the reader of its output goes away (| head)", async () => {
    const rows = JSON.stringify(Array.from({ length: 100_000 }, () => [5.1, 3.5, 1.4, 0.2]));
    const child = spawn(process.execPath, ["--import", "tsx", "src/cli/main.ts", "predict", "--model", join(out, "model.json"), "--input", "-"], {
      cwd: REPO,
      env: { ...process.env, ...ENV },
    });
    let stderr = "";
    child.stderr.on("data", (chunk: Buffer) => (stderr += chunk.toString()));
    child.stdout.once("data", () => child.stdout.destroy());
    child.stdin.end(rows);
    const code = await new Promise<number | null>((resolve) => child.on("close", resolve));
    expect(stderr).toBe("");
    expect(code).toBe(0);
  });

  it("hands each measurement to the model feature of the same name, whatever the model's order", async () => {
    const artifact = JSON.parse(await readFile(join(out, "model.json"), "utf8")) as {
      version: string;
      features: { name: string }[];
      classes: string[];
      coefficients: number[][];
      intercepts: number[];
    };
    const order = [3, 1, 2, 0];
    artifact.features = order.map((j) => artifact.features[j]!);
    artifact.coefficients = artifact.coefficients.map((row) => order.map((j) => row[j]!));
    artifact.version = modelVersion({ ...artifact, features: artifact.features.map((f) => f.name) });
    const reordered = join(dir, "reordered.json");
    await writeFile(reordered, JSON.stringify(artifact));
    const input = "[[5.1,3.5,1.4,0.2],[6.2,2.9,4.3,1.3],[7.7,3.0,6.1,2.3]]";
    const [a, b] = await Promise.all([predict("--input", input), iris(["predict", "--model", reordered, "--input", input])]);
    expect(b.stderr).toBe("");
    const [pa, pb] = [a, b].map((r) => JSON.parse(r.stdout) as { prediction: number[]; probabilities: number[][] });
    expect(pb!.prediction).toEqual([0, 1, 2]);
    pb!.probabilities.flat().forEach((p, i) => expect(p).toBeCloseTo(pa!.probabilities.flat()[i]!, 12));

    artifact.features[0]!.name = "stem_length";
    artifact.version = modelVersion({ ...artifact, features: artifact.features.map((f) => f.name) });
    await writeFile(reordered, JSON.stringify(artifact));
    const c = await iris(["predict", "--model", reordered, "--input", input]);
    expect(c.code).toBe(1);
    expect(c.stderr).toBe(
      `iris predict: ${reordered}: the model's features (stem_length, sepal_width, petal_length, sepal_length) ` +
        "are not the measurements --input gives (sepal_length, sepal_width, petal_length, petal_width)\n",
    );
  });

  it("a missing --input, or an empty --model, is a usage error", async () => {
    const r = await predict();
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/^iris predict: --input is required/);
    const empty = await iris(["predict", "--model", "", "--input", "[5.1,3.5,1.4,0.2]"]);
    expect(empty.code).toBe(2);
    expect(empty.stderr).toBe('iris predict: --model must be the path of a model artifact, got ""\n');
  });

  it("a missing or invalid model file: one line, exit 1", async () => {
    const missing = join(dir, "absent.json");
    const r1 = await iris(["predict", "--model", missing, "--input", "[5.1,3.5,1.4,0.2]"]);
    expect(r1.code).toBe(1);
    expect(r1.stderr).toBe(`iris predict: ${missing}: model file not found\n`);

    const tampered = join(dir, "tampered.json");
    const text = await readFile(join(out, "model.json"), "utf8");
    await writeFile(tampered, text.replace(/"intercepts": \[(-?\d)/, '"intercepts": [1$1'));
    const r2 = await iris(["predict", "--model", tampered, "--input", "[5.1,3.5,1.4,0.2]"]);
    expect(r2.code).toBe(1);
    expect(r2.stderr).toMatch(/^iris predict: .*tampered\.json: invalid model artifact: version: .* does not match the parameters/);
    expect(r2.stderr.split("\n")).toHaveLength(2);

    const truncated = join(dir, "truncated.json");
    await writeFile(truncated, '{\n  "format": "iris-serve.model.v1",\n');
    const r3 = await iris(["predict", "--model", truncated, "--input", "[5.1,3.5,1.4,0.2]"]);
    expect(r3.code).toBe(1);
    expect(r3.stderr.startsWith(`iris predict: ${truncated}:3:1: not valid JSON: `)).toBe(true);
    expect(r3.stderr.split("\n")).toHaveLength(2);
  });

  it("reads the model path from IRIS_MODEL when --model is not given", async () => {
    const r = await iris(["predict", "--input", "[6.2,2.9,4.3,1.3]"], { IRIS_MODEL: join(out, "model.json") });
    expect(r.code).toBe(0);
    expect(r.stdout.startsWith('{"prediction":[1],')).toBe(true);
  });
});

describe("help", () => {
  it("every command has --help, and iris --help lists train and predict", async () => {
    const [top, train, predict] = await Promise.all([iris(["--help"]), iris(["train", "--help"]), iris(["predict", "--help"])]);
    expect(top.code).toBe(0);
    expect(top.stdout).toMatch(/^\s+train\s+Train the model/m);
    expect(top.stdout).toMatch(/^\s+predict\s+Classify measurements/m);
    expect(train.code).toBe(0);
    expect(train.stdout).toMatch(/^Usage: iris train \[options\]/);
    for (const flag of ["--data", "--out", "--c", "--test-fraction", "--seed", "--folds", "--max-iter", "--tol", "--min-accuracy"]) {
      expect(train.stdout).toContain(flag);
    }
    expect(predict.code).toBe(0);
    expect(predict.stdout).toMatch(/^Usage: iris predict --input/);
  });
});
