/**
 * The Live panel: reads `/metrics` every 2 s, keeps the readings of the
 * last 5 minutes, and draws what happened between them (calls per second,
 * error ratio, latency p50/p99, predictions per species) as small SVG
 * charts, with the latest figures as text. A model swap seen in the metrics
 * (iris_model_info's version) is marked on every chart and said in the
 * status line; a failed reload is said too.
 */
import { byId, h, percent, s } from "./dom.js";
import type { ConsoleData } from "./data.js";
import { between, parsePrometheus, readingOf, type Interval, type Reading } from "./metrics.js";

const POLL_MS = 2_000;
const WINDOW_MS = 5 * 60_000;
/** The tiles' figures are over the last 30 s. */
const TILE_MS = 30_000;
const WIDTH = 320;
const HEIGHT = 130;
const PAD = { left: 56, right: 8, top: 10, bottom: 20 };

/** A model swap seen in the metrics. */
interface Mark {
  at: number;
  from: string | undefined;
  to: string | undefined;
}

const markLabel = (m: Mark): string => `${clock(m.at)}: model ${m.from ?? "none"} → ${m.to ?? "none"}`;

const ms = (seconds: number): string => (Number.isNaN(seconds) ? "–" : seconds < 0.001 ? `${(seconds * 1e6).toFixed(0)} µs` : `${(seconds * 1000).toFixed(seconds < 0.01 ? 2 : 1)} ms`);
const rate = (v: number): string => (v >= 100 ? v.toFixed(0) : v >= 10 ? v.toFixed(1) : v.toFixed(2));
const clock = (at: number): string => new Date(at).toLocaleTimeString([], { hour12: false });

function tile(title: string, value: string, note: string, role?: string): HTMLElement {
  return h("div", { class: "card", ...(role ? { "data-tile": role } : {}) }, h("div", { class: "title" }, title), h("div", { class: "value" }, value), h("div", { class: "note" }, note));
}

/** A line chart of one or two series over the window, with reload marks. */
function lineChart(
  label: string,
  points: readonly Interval[],
  series: { name: string; value: (i: Interval) => number; second?: boolean }[],
  format: (v: number) => string,
  marks: readonly Mark[],
  now: number,
  fixedMax?: number,
): HTMLElement {
  const innerW = WIDTH - PAD.left - PAD.right;
  const innerH = HEIGHT - PAD.top - PAD.bottom;
  const values = points.flatMap((p) => series.map((sr) => sr.value(p))).filter((v) => Number.isFinite(v));
  const max = fixedMax ?? (Math.max(...values, 0) * 1.15 || 1);
  const x = (at: number): number => PAD.left + innerW * (1 - (now - at) / WINDOW_MS);
  const y = (v: number): number => PAD.top + innerH * (1 - Math.min(v, max) / max);
  const svg = s("svg", { viewBox: `0 0 ${WIDTH} ${HEIGHT}`, role: "img", "aria-label": label });
  for (const v of [0, max / 2, max]) {
    svg.append(
      s("line", { x1: PAD.left, x2: WIDTH - PAD.right, y1: y(v), y2: y(v), class: "grid" }),
      s("text", { x: PAD.left - 4, y: y(v) + 4, "text-anchor": "end", class: "value" }, format(v)),
    );
  }
  svg.append(
    s("text", { x: PAD.left, y: HEIGHT - 4, class: "value" }, "−5 min"),
    s("text", { x: WIDTH - PAD.right, y: HEIGHT - 4, "text-anchor": "end", class: "value" }, "now"),
  );
  for (const mark of marks) {
    if (now - mark.at > WINDOW_MS) continue;
    svg.append(s("line", { x1: x(mark.at), x2: x(mark.at), y1: PAD.top, y2: HEIGHT - PAD.bottom, class: "reload-mark" }, s("title", {}, markLabel(mark))));
  }
  for (const sr of series) {
    let d = "";
    let pen = false;
    for (const p of points) {
      const v = sr.value(p);
      if (!Number.isFinite(v)) {
        pen = false;
        continue;
      }
      d += `${pen ? "L" : "M"}${x(p.at).toFixed(1)},${y(v).toFixed(1)}`;
      pen = true;
    }
    if (d !== "") svg.append(s("path", { d, class: `series${sr.second ? " second" : ""}` }, s("title", {}, sr.name)));
  }
  const legend = series.length > 1 ? h("ul", { class: "legend" }, ...series.map((sr) => h("li", {}, `${sr.second ? "dashed" : "solid"}: ${sr.name}`))) : null;
  return h("figure", {}, h("figcaption", {}, label), svg, legend);
}

/** Predictions per species in each interval, as stacked columns. */
function mixChart(points: readonly Interval[], classes: readonly string[], marks: readonly Mark[], now: number): HTMLElement {
  const innerW = WIDTH - PAD.left - PAD.right;
  const innerH = HEIGHT - PAD.top - PAD.bottom;
  const totals = points.map((p) => [...p.species.values()].reduce((a, b) => a + b, 0));
  const max = Math.max(...totals, 0) || 1;
  const x = (at: number): number => PAD.left + innerW * (1 - (now - at) / WINDOW_MS);
  const barW = Math.max(1.5, (innerW * POLL_MS) / WINDOW_MS - 0.5);
  const recent = new Map<string, number>();
  for (const p of points) if (now - p.at <= TILE_MS) for (const [k, v] of p.species) recent.set(k, (recent.get(k) ?? 0) + v);
  const recentTotal = [...recent.values()].reduce((a, b) => a + b, 0);
  const summary = recentTotal === 0 ? "no predictions in the last 30 s" : classes.map((c) => `${c} ${percent((recent.get(c) ?? 0) / recentTotal, 0)}`).join(", ");
  const svg = s("svg", { viewBox: `0 0 ${WIDTH} ${HEIGHT}`, role: "img", "aria-label": `Predicted species per interval; last 30 s: ${summary}` });
  svg.append(
    s("line", { x1: PAD.left, x2: WIDTH - PAD.right, y1: PAD.top + innerH, y2: PAD.top + innerH, class: "grid" }),
    s("text", { x: PAD.left - 4, y: PAD.top + 4, "text-anchor": "end", class: "value" }, String(max)),
    s("text", { x: PAD.left - 4, y: PAD.top + innerH + 4, "text-anchor": "end", class: "value" }, "0"),
    s("text", { x: PAD.left, y: HEIGHT - 4, class: "value" }, "−5 min"),
    s("text", { x: WIDTH - PAD.right, y: HEIGHT - 4, "text-anchor": "end", class: "value" }, "now"),
  );
  points.forEach((p) => {
    let base = PAD.top + innerH;
    classes.forEach((c, k) => {
      const n = p.species.get(c) ?? 0;
      if (n === 0) return;
      const hgt = (innerH * n) / max;
      base -= hgt;
      svg.append(s("rect", { x: x(p.at) - barW, y: base, width: barW, height: hgt, class: `mix-${k % 6}` }, s("title", {}, `${c}: ${n}`)));
    });
  });
  for (const mark of marks) {
    if (now - mark.at > WINDOW_MS) continue;
    svg.append(s("line", { x1: x(mark.at), x2: x(mark.at), y1: PAD.top, y2: HEIGHT - PAD.bottom, class: "reload-mark" }, s("title", {}, markLabel(mark))));
  }
  const legend = h(
    "ul",
    { class: "legend" },
    ...classes.map((c, k) => h("li", {}, h("span", { class: `swatch mix-${k % 6}`, "aria-hidden": "true" }), `${c}: ${recentTotal === 0 ? "–" : percent((recent.get(c) ?? 0) / recentTotal, 0)}`)),
  );
  return h("figure", {}, h("figcaption", {}, "Predicted species (rows per interval; shares over the last 30 s)"), svg, legend);
}

export interface Live {
  /** The species to show, in the model's order (after a swap, the new model's). */
  setClasses(classes: readonly string[]): void;
}

export function startLive(data: ConsoleData): Live {
  const status = byId("live-status");
  const tiles = byId("live-tiles");
  const charts = byId("live-charts");
  let classes = [...data.classes];
  const readings: Reading[] = [];
  const marks: Mark[] = [];
  let failedReloads = 0;

  const draw = (): void => {
    const now = readings.at(-1)!.at;
    const points: Interval[] = [];
    for (let i = 1; i < readings.length; i++) points.push(between(readings[i - 1]!, readings[i]!));
    const latest = readings.at(-1)!;
    const base = readings.find((r) => latest.at - r.at <= TILE_MS + POLL_MS / 2) ?? latest;
    const recent = base === latest ? undefined : between(base, latest);
    const model = latest.model;
    tiles.replaceChildren(
      tile("Calls / s", recent ? rate(recent.callsPerSecond) : "–", "prediction calls, last 30 s", "rate"),
      tile("Error ratio", recent && !Number.isNaN(recent.errorRatio) ? percent(recent.errorRatio) : "–", "failed calls, last 30 s", "errors"),
      tile("Latency p50 / p99", recent ? `${ms(recent.p50)} / ${ms(recent.p99)}` : "–", "at the server, last 30 s", "latency"),
      tile("Model", model ? model.version : "–", model ? model.name : "no model loaded", "model"),
    );
    charts.replaceChildren(
      lineChart("Prediction calls per second", points, [{ name: "calls per second", value: (p) => p.callsPerSecond }], rate, marks, now),
      lineChart("Error ratio (failed calls / calls)", points, [{ name: "error ratio", value: (p) => p.errorRatio }], (v) => percent(v, 0), marks, now, 1),
      lineChart("Latency at the server", points, [
        { name: "p50", value: (p) => p.p50 },
        { name: "p99", value: (p) => p.p99, second: true },
      ], ms, marks, now),
      mixChart(points, classes, marks, now),
    );
  };

  const poll = async (): Promise<void> => {
    try {
      const response = await fetch("/metrics", { cache: "no-store" });
      if (!response.ok) throw new Error(`/metrics answered ${response.status}`);
      const reading = readingOf(parsePrometheus(await response.text()), Date.now());
      const previous = readings.at(-1);
      readings.push(reading);
      while (readings.length > 2 && reading.at - readings[0]!.at > WINDOW_MS + POLL_MS) readings.shift();
      const notes: string[] = [];
      if (previous !== undefined) {
        const step = between(previous, reading);
        const before = previous.model?.version;
        const after = reading.model?.version;
        if (before !== after) marks.push({ at: reading.at, from: before, to: after });
        failedReloads += step.reloadFailed;
      }
      const lastMark = marks.at(-1);
      if (lastMark) notes.push(`Model swapped at ${clock(lastMark.at)}: ${lastMark.from ?? "none"} → ${lastMark.to ?? "none"}.`);
      if (failedReloads > 0) notes.push(`${failedReloads} reload${failedReloads > 1 ? "s" : ""} failed since this page opened (the model kept serving).`);
      status.textContent = notes.length > 0 ? notes.join(" ") : `Updated ${clock(reading.at)}.`;
      draw();
    } catch (err) {
      status.textContent = `Could not read /metrics: ${(err as Error).message}`;
    } finally {
      setTimeout(() => void poll(), POLL_MS);
    }
  };
  if (data.metrics) void poll();
  else status.textContent = "This server does not serve /metrics: the Live panel has nothing to show.";
  return {
    setClasses(next) {
      classes = [...next];
    },
  };
}
