/**
 * The one place the served model lives. Swapping is a single reference
 * assignment, so it is atomic: every call reads `current` once, up front,
 * and answers entirely from that model (a batch never mixes two versions),
 * while the next call sees the new one. Listeners (health) hear every change.
 */
import type { IrisModel } from "../model/index.js";
import { serveModel, type ServedModel } from "./served-model.js";

export type ModelListener = (current: ServedModel | undefined, previous: ServedModel | undefined) => void;

export class ModelHolder {
  #current: ServedModel | undefined;
  readonly #listeners = new Set<ModelListener>();

  constructor(initial?: IrisModel | ServedModel) {
    if (initial !== undefined) this.#current = toServed(initial);
  }

  /** The model answering calls now; undefined until one is loaded. */
  get current(): ServedModel | undefined {
    return this.#current;
  }

  /**
   * Atomically replaces the served model (or unloads it with undefined) and
   * returns the previous one. Throws, leaving the current model in place,
   * when the new model cannot be served.
   */
  swap(next: IrisModel | ServedModel | undefined): ServedModel | undefined {
    const served = next === undefined ? undefined : toServed(next);
    const previous = this.#current;
    this.#current = served;
    for (const listener of this.#listeners) listener(served, previous);
    return previous;
  }

  /** Calls `listener` on every swap; returns a function that unsubscribes. */
  onChange(listener: ModelListener): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }
}

function toServed(m: IrisModel | ServedModel): ServedModel {
  return "model" in m && "columns" in m ? m : serveModel(m);
}
