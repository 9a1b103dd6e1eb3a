/**
 * Try it: a slider and a number per measurement. Sliders span the training
 * range; numbers take any measurement, and one beyond the training range is
 * flagged (the model extrapolates) while an impossible one (negative, not a
 * number) is marked invalid with the server's own words. Every change asks
 * `POST /predict` (one request in flight at most: changes made meanwhile are
 * sent together once it answers) and shows the species and every class's
 * probability as bars, the server's out-of-range flag when it gives one,
 * and "copy as" snippets for the current measurements.
 */
import { FEATURES, parseDecimal } from "../model/features.js";
import { measurementProblem } from "../model/model.js";
import type { ConsoleData, FeatureRange } from "./data.js";
import { byId, percent } from "./dom.js";
import { predictOne, type PredictAnswer } from "./predict.js";
import { grpcAddressOf, snippet, type Endpoint, type SnippetKind } from "./snippets.js";

interface Control {
  name: string;
  box: HTMLElement;
  slider: HTMLInputElement;
  number: HTMLInputElement;
  flag: HTMLElement;
  range: FeatureRange;
}

const short = (v: number): string => String(Number(v.toFixed(4)));

export interface TryIt {
  /** Takes a new model's ranges and classes (after a swap) and predicts again. */
  update(data: ConsoleData): void;
}

export function startTryIt(initial: ConsoleData): TryIt {
  let data = initial;
  const controls: Control[] = FEATURES.map((name) => {
    const box = document.querySelector<HTMLElement>(`.feature[data-feature="${name}"]`);
    if (box === null) throw new Error(`the page has no control for ${name}`);
    return {
      name,
      box,
      slider: byId<HTMLInputElement>(`f-${name}-slider`),
      number: byId<HTMLInputElement>(`f-${name}`),
      flag: byId(`f-${name}-flag`),
      range: data.features.find((f) => f.name === name)!,
    };
  });
  const species = byId("try-species");
  const bars = byId("try-bars");
  const serverFlag = byId("try-server-flag");
  const error = byId("try-error");
  const snippetText = byId("snippet-text");
  const copyStatus = byId("snippet-status");
  let inFlight = false;
  let pending = false;

  const endpoint = (): Endpoint => ({
    httpOrigin: location.origin,
    grpcAddress: grpcAddressOf(location.hostname, data.grpcPort),
    tls: location.protocol === "https:",
    modelName: data.modelName,
  });
  const kind = (): SnippetKind => (document.querySelector<HTMLInputElement>('input[name="snippet"]:checked')?.value ?? "curl-predict") as SnippetKind;

  /** Checks every number; returns the values when all can be sent. */
  const read = (): number[] | undefined => {
    let ok = true;
    const values = controls.map((c) => {
      const text = c.number.value.trim();
      const value = text === "" ? NaN : parseDecimal(text);
      const problem = text === "" ? "is required" : Number.isNaN(value) ? `must be a number, got "${text}"` : measurementProblem(value);
      const { min, max, unit } = c.range;
      const out = problem === undefined && (value < min || value > max);
      c.box.classList.toggle("invalid", problem !== undefined);
      c.box.classList.toggle("out", out);
      c.number.setAttribute("aria-invalid", String(problem !== undefined));
      c.flag.textContent =
        problem !== undefined
          ? `${c.name} ${problem}`
          : out
            ? `⚠ outside the training range (${short(min)}–${short(max)} ${unit}): the model extrapolates`
            : "";
      if (problem !== undefined) ok = false;
      return value;
    });
    return ok ? values : undefined;
  };

  const show = (answer: PredictAnswer): void => {
    species.textContent = `${answer.species} (${percent(answer.probabilities[answer.prediction] ?? NaN)})`;
    const items = data.classes.map((c, k) => {
      const p = answer.probabilities[k] ?? 0;
      const li = document.createElement("li");
      li.dataset.class = c;
      if (k === answer.prediction) li.classList.add("top");
      const name = document.createElement("span");
      name.textContent = c;
      const track = document.createElement("span");
      track.className = "track";
      track.setAttribute("aria-hidden", "true");
      const fill = document.createElement("span");
      fill.className = "fill";
      // A CSS variable set through the CSSOM, which a strict style-src allows.
      fill.style.setProperty("--p", String(p));
      track.append(fill);
      const pct = document.createElement("span");
      pct.className = "pct";
      pct.textContent = percent(p);
      li.append(name, track, pct);
      return li;
    });
    bars.replaceChildren(...items);
    const flagged = answer.out_of_range ?? [];
    serverFlag.textContent = flagged.length > 0 ? `The server flags ${flagged.join(", ")} as outside the model's training range.` : "";
  };

  const predict = async (): Promise<void> => {
    const values = read();
    snippetText.firstElementChild!.textContent = values ? snippet(kind(), endpoint(), values) : "(fix the measurements first)";
    if (values === undefined) {
      error.textContent = "";
      species.textContent = "–";
      return;
    }
    if (inFlight) {
      pending = true;
      return;
    }
    inFlight = true;
    try {
      const answer = await predictOne(values);
      error.textContent = "";
      if (!pending) show(answer);
    } catch (err) {
      error.textContent = `The server refused: ${(err as Error).message}`;
    } finally {
      inFlight = false;
      if (pending) {
        pending = false;
        void predict();
      }
    }
  };

  for (const c of controls) {
    c.slider.addEventListener("input", () => {
      c.number.value = c.slider.value;
      void predict();
    });
    c.number.addEventListener("input", () => {
      const value = parseDecimal(c.number.value.trim());
      if (Number.isFinite(value)) c.slider.value = String(Math.min(c.range.max, Math.max(c.range.min, value)));
      void predict();
    });
  }
  byId<HTMLFormElement>("try-form").addEventListener("submit", (event) => event.preventDefault());
  for (const radio of document.querySelectorAll<HTMLInputElement>('input[name="snippet"]')) radio.addEventListener("change", () => void predict());
  byId("snippet-copy").addEventListener("click", () => {
    const text = snippetText.textContent ?? "";
    const selectIt = (): void => {
      const range = document.createRange();
      range.selectNodeContents(snippetText);
      getSelection()?.removeAllRanges();
      getSelection()?.addRange(range);
      copyStatus.textContent = "Selected: press Ctrl+C (⌘C) to copy.";
    };
    if (navigator.clipboard === undefined) return selectIt();
    navigator.clipboard.writeText(text).then(() => (copyStatus.textContent = "Copied."), selectIt);
  });

  void predict();
  return {
    update(next) {
      data = next;
      for (const c of controls) {
        const range = next.features.find((f) => f.name === c.name);
        if (range === undefined) continue;
        c.range = range;
        c.slider.min = String(range.min);
        c.slider.max = String(range.max);
        byId(`f-${c.name}-range`).textContent = `training range ${short(range.min)}–${short(range.max)} ${range.unit}`;
      }
      void predict();
    },
  };
}
