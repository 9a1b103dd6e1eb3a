/**
 * The web console in real Chromium against real servers: the model card
 * (with and without JavaScript), Try it (sliders, numbers, flags, the
 * prediction against gRPC Predict's answer, the "copy as" snippets run as
 * they are), Batch (a CSV file in, its predictions out as a download, bad
 * rows reported as the trainer reports them), Live (from /metrics), a hot
 * reload, an accessibility scan and a phone-sized screen. Every test fails
 * on a console error (./fixtures.ts).
 */
import { execFile } from "node:child_process";
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import AxeBuilder from "@axe-core/playwright";
import type { Page } from "@playwright/test";
import { parse } from "csv-parse/sync";
import { IrisError } from "../../src/errors.js";
import { FEATURES, IrisModel, loadModelFile, type ModelArtifact } from "../../src/model/index.js";
import { parseDataset, train } from "../../src/training/index.js";
import { call, generatedClient } from "../support/service-fixtures.js";
import { expect, MODEL_PATH, startConsoleServer, test, type ConsoleServer } from "./fixtures.js";

const run = promisify(execFile);
const pct = (v: number): string => `${(v * 100).toFixed(1)} %`;
const PROBE = fileURLToPath(new URL("../support/grpc-probe.py", import.meta.url));
const REPO = fileURLToPath(new URL("../../", import.meta.url));

async function artifact(): Promise<ModelArtifact> {
  return (await loadModelFile(MODEL_PATH)).artifact;
}

/** What gRPC Predict answers for these measurements (FEATURES order). */
async function grpcPredict(iris: ConsoleServer, values: number[]): Promise<{ species: string; probabilities: number[] }> {
  const client = generatedClient(iris.grpcAddress);
  try {
    const [sepalLength, sepalWidth, petalLength, petalWidth] = values;
    const result = await call(client, client.predict, { flower: { sepalLength, sepalWidth, petalLength, petalWidth } });
    if (!result.ok) throw result.err;
    return { species: result.res.prediction!.species, probabilities: result.res.prediction!.probabilities };
  } finally {
    client.close();
  }
}

/** The four numbers of Try it, in FEATURES order. */
async function measurements(page: Page): Promise<number[]> {
  return Promise.all(FEATURES.map(async (name) => Number(await page.locator(`#f-${name}`).inputValue())));
}

/** Waits until Try it shows gRPC Predict's answer for its current measurements. */
async function expectPredictShown(page: Page, iris: ConsoleServer): Promise<{ species: string; probabilities: number[] }> {
  const answer = await grpcPredict(iris, await measurements(page));
  const top = Math.max(...answer.probabilities);
  await expect(page.locator("#try-species")).toHaveText(`${answer.species} (${pct(top)})`);
  const classes = (await artifact()).classes;
  for (const [k, c] of classes.entries()) {
    await expect(page.locator(`#try-bars li[data-class="${c}"] .pct`)).toHaveText(pct(answer.probabilities[k]!));
  }
  return answer;
}

test("the model card shows the served model: version, when loaded, ranges, hyperparameters, metrics and charts", async ({ page, iris, shoot }) => {
  const a = await artifact();
  const h = a.metrics.heldOut!;
  await page.goto(iris.origin);
  await expect(page).toHaveTitle(`${a.name} ${a.version} · iris-serve`);
  await expect(page.locator("header h1")).toContainText(a.version);
  const card = page.locator("#card");
  await expect(card.locator('[data-role="version"]')).toHaveText(a.version);
  await expect(card.locator("time")).toHaveAttribute("datetime", iris.holder.current!.loadedAt.toISOString());
  await expect(card.locator(".card", { hasText: "Held-out accuracy" }).locator(".value")).toHaveText(pct(h.accuracy));
  await expect(card.locator(".card", { hasText: "CV accuracy" }).locator(".value")).toHaveText(pct(a.metrics.crossValidation.accuracyMean));
  for (const f of a.features) {
    const row = card.locator("tr", { has: page.locator("th", { hasText: f.name.replace("_", " ") }) }).first();
    await expect(row.locator("td").nth(1)).toHaveText(String(f.min));
    await expect(row.locator("td").nth(2)).toHaveText(String(f.max));
  }
  await expect(card.locator("dd", { hasText: String(a.hyperparameters.seed) }).first()).toBeVisible();
  // The training report's three charts, drawn by the same functions.
  await expect(card.locator('svg[role="img"]')).toHaveCount(3);
  await expect(card.locator('svg[aria-label="Confusion matrix"] rect title').first()).toHaveText(
    `true ${a.classes[0]}, predicted ${a.classes[0]}: ${h.confusionMatrix[0]![0]} of ${h.confusionMatrix[0]!.reduce((x, y) => x + y, 0)}`,
  );
  await shoot("console-card", card);
});

test("the model card is readable without JavaScript", async ({ browser, iris }) => {
  const a = await artifact();
  const context = await browser.newContext({ javaScriptEnabled: false });
  try {
    const page = await context.newPage();
    await page.goto(iris.origin);
    await expect(page.locator("#card")).toContainText(a.version);
    await expect(page.locator("#card")).toContainText(pct(a.metrics.heldOut!.accuracy));
    await expect(page.locator('#card svg[role="img"]')).toHaveCount(3);
    await expect(page.locator("noscript")).toHaveCount(1);
  } finally {
    await context.close();
  }
});

test("moving a slider changes the prediction to what gRPC Predict answers for the same measurements", async ({ page, iris, shoot }) => {
  await page.goto(iris.origin);
  const first = await expectPredictShown(page, iris);
  // By keyboard: each arrow press moves the slider one step (0.1 cm).
  const slider = page.locator("#f-petal_length-slider");
  await slider.focus();
  const before = Number(await slider.inputValue());
  for (let i = 0; i < 20; i++) await page.keyboard.press("ArrowRight");
  await expect(page.locator("#f-petal_length")).toHaveValue(String(Math.round((before + 2) * 10) / 10));
  const second = await expectPredictShown(page, iris);
  expect(second.species).not.toBe(first.species);
  await shoot("console-try-it", page.locator("#try"));

  // The snippets are what the page shows, and they work as shown.
  const values = await measurements(page);
  const snippet = async (kind: string): Promise<string> => {
    await page.locator(`input[name="snippet"][value="${kind}"]`).check();
    const text = await page.locator("#snippet-text").innerText();
    expect(text).toContain(String(values[2]));
    return text;
  };
  const curl = JSON.parse((await run("bash", ["-c", await snippet("curl-predict")])).stdout) as { species: string; probabilities: number[] };
  expect(curl.species).toBe(second.species);
  expect(curl.probabilities).toEqual(second.probabilities);
  const v2 = JSON.parse((await run("bash", ["-c", await snippet("curl-v2")])).stdout) as { outputs: { name: string; data: unknown[] }[] };
  expect(v2.outputs.find((o) => o.name === "species")!.data).toEqual([second.species]);
  // grpcurl is not packaged here: its arguments go to the grpcurl stand-in (Python grpcio, reflection only).
  const grpcurl = await snippet("grpcurl");
  const [, body, address, method] = /-d '(.*)' (\S+) (\S+)$/.exec(grpcurl)!;
  expect(address).toBe(iris.grpcAddress);
  const probed = JSON.parse((await run("/usr/bin/python3", [PROBE, "call", address!, method!, body!])).stdout) as { prediction: { species: string } };
  expect(probed.prediction.species).toBe(second.species);
  // The SDK snippet, run as a module with its import pointed at the SDK's source.
  const sdk = (await snippet("sdk")).replace('"@iris-serve/client"', JSON.stringify(join(REPO, "src/client/index.ts")));
  const dir = await mkdtemp(join(tmpdir(), "iris-console-sdk-"));
  try {
    await writeFile(join(dir, "snippet.mts"), sdk);
    const { stdout } = await run(join(REPO, "node_modules/.bin/tsx"), [join(dir, "snippet.mts")], { cwd: REPO });
    expect(stdout.startsWith(`${second.species} [`)).toBe(true);
    expect(stdout.trim().endsWith(iris.holder.current!.model.version)).toBe(true);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test("a measurement beyond the training range is allowed and flagged; an impossible one is refused", async ({ page, iris }) => {
  const a = await artifact();
  const width = a.features.find((f) => f.name === "petal_width")!;
  await page.goto(iris.origin);
  await expectPredictShown(page, iris);
  const box = page.locator('.feature[data-feature="petal_width"]');
  await page.locator("#f-petal_width").fill(String(width.max + 0.6));
  await expect(box).toHaveClass(/\bout\b/);
  await expect(page.locator("#f-petal_width-flag")).toHaveText(`⚠ outside the training range (${width.min}–${width.max} cm): the model extrapolates`);
  await expect(page.locator("#f-petal_width-slider")).toHaveValue(String(width.max));
  await expectPredictShown(page, iris);
  await page.locator("#f-petal_width").fill("-1");
  await expect(box).toHaveClass(/\binvalid\b/);
  await expect(page.locator("#f-petal_width")).toHaveAttribute("aria-invalid", "true");
  await expect(page.locator("#f-petal_width-flag")).toHaveText("petal_width must be >= 0 cm, got -1");
  await expect(page.locator("#try-species")).toHaveText("–");
});

test("shows the server's own out-of-range flag", async ({ page, iris }) => {
  await page.goto(iris.origin);
  await expectPredictShown(page, iris);
  await page.locator("#f-sepal_length").fill("9.5");
  await expect(page.locator("#try-server-flag")).toHaveText("The server flags sepal_length as outside the model's training range.");
});

test("a CSV file round-trips: predictions as a table and a download, bad rows reported as the trainer reports them", async ({ page, iris, shoot }) => {
  const lines = (await readFile(new URL("../../data/iris.csv", import.meta.url), "utf8")).trim().split(/\r?\n/);
  // The header, 40 good rows, and bad rows of every kind among them.
  const text = [
    lines[0],
    ...lines.slice(1, 21),
    "5.1,abc,1.4,0.2,setosa",
    "6.3,2.9,5.6",
    "",
    "5.0,3.4,-1.5,0.2,setosa",
    "4.9,3.0,1.4,0.2,setosa,extra",
    ...lines.slice(51, 71),
    '"6.1",2.8,,1.2,versicolor',
  ].join("\n") + "\n";
  // The trainer's own report of the same file.
  let trainer: { field: string; description: string }[] = [];
  try {
    parseDataset(text, "flowers.csv");
  } catch (err) {
    trainer = (err as IrisError).violations.map((v) => ({ ...v }));
  }
  expect(trainer.length).toBe(5);

  await page.goto(iris.origin);
  await page.locator("#batch-file").setInputFiles({ name: "flowers.csv", mimeType: "text/csv", buffer: Buffer.from(text) });
  const version = iris.holder.current!.model.version;
  await expect(page.locator("#batch-status")).toHaveText(
    new RegExp(`^40 rows predicted by model ${version}; 5 not predicted \\(listed below\\); the prediction matches the file's species on \\d+ of 40\\.$`),
  );
  await expect(page.locator("#batch-problem-list li")).toHaveText(trainer.map((v) => `${v.field}: ${v.description}`));
  await expect(page.locator("#batch-table tbody tr")).toHaveCount(40);
  await shoot("console-batch", page.locator("#batch"));

  const [download] = await Promise.all([page.waitForEvent("download"), page.locator("#batch-download").click()]);
  expect(download.suggestedFilename()).toBe("flowers-predictions.csv");
  const rows = parse(await readFile(await download.path(), "utf8"), { columns: true }) as Record<string, string>[];
  expect(rows).toHaveLength(40);
  const model = new IrisModel(await artifact());
  const good = [...lines.slice(1, 21).map((l, i) => ({ l, line: i + 2 })), ...lines.slice(51, 71).map((l, i) => ({ l, line: i + 27 }))];
  rows.forEach((row, i) => {
    const values = FEATURES.map((f) => Number(row[f]));
    expect(values).toEqual(good[i]!.l.split(",").slice(0, 4).map(Number));
    expect(Number(row.line)).toBe(good[i]!.line);
    const p = model.predict(values);
    expect(row.predicted_species).toBe(p.label);
    model.classes.forEach((c, k) => expect(Number(row[`probability_${c}`])).toBeCloseTo(p.probabilities[k]!, 12));
    expect(row.model_version).toBe(version);
  });
  // The status line's agreement count is the file's species against the predictions.
  const agree = rows.filter((r) => r.species === r.predicted_species).length;
  await expect(page.locator("#batch-status")).toContainText(`matches the file's species on ${agree} of 40`);
});

test("after a hot reload the page shows the new model, without being reloaded", async ({ page, shoot }) => {
  const iris = await startConsoleServer();
  try {
    const old = iris.holder.current!.model.version;
    await page.goto(iris.origin);
    await expectPredictShown(page, iris);
    const retrained = (await train({ C: 0.05 })).artifact;
    expect(retrained.version).not.toBe(old);
    iris.holder.swap(new IrisModel(retrained));
    await expect(page.locator("#model-notice")).toContainText(`${old} → ${retrained.version}`);
    await expect(page.locator("header h1")).toContainText(retrained.version);
    await expect(page.locator('#card [data-role="version"]')).toHaveText(retrained.version);
    await expect(page.locator("#card .card", { hasText: "CV accuracy" }).locator(".value")).toHaveText(pct(retrained.metrics.crossValidation.accuracyMean));
    // Try it now answers with the new model.
    await page.locator("#f-sepal_width").fill("3.3");
    await expectPredictShown(page, iris);
    await shoot("console-reload", page.locator("header.top"));
  } finally {
    await iris.server.forceShutdown();
  }
});

test("Live shows calls per second, error ratio, latency and the species mix from /metrics, and marks a model swap", async ({ page, shoot }) => {
  const iris = await startConsoleServer();
  try {
    await page.goto(iris.origin);
    await expect(page.locator('#live-tiles [data-tile="model"] .value')).toHaveText(iris.holder.current!.model.version);
    // 30 good calls (15 HTTP, 15 gRPC) and 10 bad ones.
    const good = [5.1, 3.5, 1.4, 0.2];
    for (let i = 0; i < 15; i++) {
      await fetch(`${iris.origin}/predict`, { method: "POST", body: JSON.stringify({ features: i % 2 ? good : [6.7, 3.0, 5.2, 2.3] }) });
      await grpcPredict(iris, good);
    }
    for (let i = 0; i < 10; i++) await fetch(`${iris.origin}/predict`, { method: "POST", body: JSON.stringify({ features: [1, 2, 3] }) });
    const errors = page.locator('#live-tiles [data-tile="errors"] .value');
    await expect(errors).toHaveText(/%$/);
    // The page's own Try it calls count too (a few good ones): the ratio is a little under 10 / 40.
    await expect.poll(async () => parseFloat(await errors.innerText())).toBeGreaterThan(18);
    expect(parseFloat(await errors.innerText())).toBeLessThanOrEqual(25);
    await expect(page.locator('#live-tiles [data-tile="latency"] .value')).toHaveText(/s \/ .*s$/);
    await expect(page.locator('#live-tiles [data-tile="rate"] .value')).not.toHaveText("–");
    await expect(page.locator("#live-charts figure")).toHaveCount(4);
    await expect(page.locator("#live-charts .legend li", { hasText: "setosa" })).toHaveText(/setosa: \d+ %/);
    const retrained = (await train({ C: 0.05 })).artifact;
    iris.holder.swap(new IrisModel(retrained));
    await expect(page.locator("#live-status")).toContainText(`→ ${retrained.version}`);
    await expect(page.locator("#live-charts .reload-mark").first()).toBeAttached();
    await shoot("console-live", page.locator("#live"));
  } finally {
    await iris.server.forceShutdown();
  }
});

test("an accessibility scan (axe-core) finds no serious or critical violation", async ({ page, iris }) => {
  await page.goto(iris.origin);
  await expectPredictShown(page, iris);
  await page.locator("#f-petal_width").fill("4");
  await expect(page.locator('.feature[data-feature="petal_width"]')).toHaveClass(/\bout\b/);
  const results = await new AxeBuilder({ page }).analyze();
  const serious = results.violations.filter((v) => v.impact === "serious" || v.impact === "critical");
  expect(serious.map((v) => `${v.id}: ${v.help} (${v.nodes.map((n) => n.target.join(" ")).join(", ")})`)).toEqual([]);
});

test("fits a phone-sized screen", async ({ browser, iris, shoot }) => {
  const context = await browser.newContext({ viewport: { width: 390, height: 844 }, isMobile: true, hasTouch: true, deviceScaleFactor: 2 });
  try {
    const page = await context.newPage();
    await page.goto(iris.origin);
    await expectPredictShown(page, iris);
    expect(await page.evaluate("document.documentElement.scrollWidth")).toBeLessThanOrEqual(390);
    await shoot("console-phone", page);
  } finally {
    await context.close();
  }
});
