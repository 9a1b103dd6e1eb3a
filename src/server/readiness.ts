/**
 * Whether the server is ready for traffic: a model is loaded and the server
 * is not draining. The one answer behind grpc.health.v1, the Open Inference
 * Protocol's ready endpoints (REST and gRPC) and every inference call, so
 * all of them turn together: ready once the model is loaded, not ready from
 * the moment shutdown begins (and never again after it).
 */
import { Code, IrisError } from "../errors.js";
import type { ModelHolder } from "./model-holder.js";
import type { ServedModel } from "./served-model.js";

export class Readiness {
  readonly holder: ModelHolder;
  #draining = false;
  readonly #listeners = new Set<(ready: boolean) => void>();

  constructor(holder: ModelHolder) {
    this.holder = holder;
    holder.onChange(() => this.#notify());
  }

  get ready(): boolean {
    return this.holder.current !== undefined && !this.#draining;
  }

  get draining(): boolean {
    return this.#draining;
  }

  /** Not ready from now on, whatever the model does. */
  drain(): void {
    if (this.#draining) return;
    this.#draining = true;
    this.#notify();
  }

  /** Calls `listener` with the new answer after every change; returns a function that unsubscribes. */
  onChange(listener: (ready: boolean) => void): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  /**
   * The model to answer a call with, or UNAVAILABLE when none is loaded.
   * While draining, calls already accepted are still answered: the
   * transports refuse new ones (gRPC GOAWAY, HTTP 503 while closing).
   */
  served(): ServedModel {
    const served = this.holder.current;
    if (served === undefined) throw new IrisError(Code.UNAVAILABLE, "no model is loaded yet; retry shortly");
    return served;
  }

  #notify(): void {
    const ready = this.ready;
    for (const listener of this.#listeners) listener(ready);
  }
}
