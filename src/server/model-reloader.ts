/**
 * Hot reload of the model: the file is looked at every `pollIntervalMs`
 * (and at once on SIGHUP); when its content has changed, the new model is
 * read, fully validated and built, and only then swapped in (ModelHolder:
 * one reference assignment between two calls, so no call fails and each
 * answer, a whole batch included, comes from one version). A file that
 * cannot be served is refused: the old model keeps serving (health and
 * readiness stay SERVING), a warning gives the reason, and the next good
 * file is picked up.
 *
 * Change detection: `stat` of the path, following symlinks, so all of
 * these are seen: a new file renamed over it, an in-place write, and the
 * symlink swap by which Kubernetes updates a mounted ConfigMap or Secret
 * (`model.json -> ..data/model.json`, `..data` re-pointed atomically to a
 * new directory): the file's identity (device, inode), size or times
 * change. Only then is the file read, and its SHA-256 compared with the
 * served one's (a `touch` or a copy of the same bytes reloads nothing).
 * A file whose `stat` changed while it was being read is being written:
 * it is read again at the next poll. A file that cannot be served is
 * refused when two polls in a row find it so (the first may have caught an
 * in-place write half-way, which the next finds complete), or at once on
 * SIGHUP; a write that stalls half-way is thus refused as invalid, and the
 * complete file is picked up when the write ends.
 */
import { createHash } from "node:crypto";
import { stat } from "node:fs/promises";
import { Code, fileProblem, IrisError, isNotFound } from "../errors.js";
import type { Logger } from "../logger.js";
import { parseModel, readModelText } from "../model/load.js";
import type { ModelHolder } from "./model-holder.js";
import { serveModel, type ServedModel } from "./served-model.js";

/** A reload that swapped the new model in, or refused it. */
export type ReloadResult = "success" | "failure";

/** What started a reload: the poll that saw the file change, or SIGHUP. */
export type ReloadTrigger = "poll" | "SIGHUP";

export interface ModelReloaderOptions {
  /** The model file (a directory's model.json already resolved). */
  path: string;
  holder: ModelHolder;
  logger: Logger;
  /** How often the file is looked at, in milliseconds; 0: never (SIGHUP only). */
  pollIntervalMs: number;
  /**
   * The model's name in the Open Inference Protocol when it is fixed
   * (--model-name). Without it, clients address the model by the artifact's
   * name, so a new model under another name is refused.
   */
  modelName?: string | undefined;
}

/** How a reload ended: swapped in, refused, or nothing to do (the file's content is the served one's). */
export type ReloadOutcome =
  | { result: "success"; version: string; previous: string | undefined }
  | { result: "failure"; reason: string }
  | { result: "unchanged"; version: string };

/** The file's identity and state: what changes when it is replaced, rewritten or re-linked. */
function signature(s: { dev: bigint; ino: bigint; size: bigint; mtimeNs: bigint; ctimeNs: bigint }): string {
  return `${s.dev}:${s.ino}:${s.size}:${s.mtimeNs}:${s.ctimeNs}`;
}

/** The file's signature (its problems worded as readModelText words them). */
async function fileSignature(path: string): Promise<string> {
  let s;
  try {
    s = await stat(path, { bigint: true });
  } catch (err) {
    if (isNotFound(err)) throw new IrisError(Code.NOT_FOUND, `${path}: model file not found`, { cause: err });
    throw new IrisError(Code.FAILED_PRECONDITION, `${path}: cannot read model file: ${fileProblem(err)}`, { cause: err });
  }
  return signature(s);
}

const sha256 = (text: string): string => createHash("sha256").update(text).digest("hex");

export class ModelReloader {
  readonly path: string;
  readonly pollIntervalMs: number;
  /** Where the model is swapped in. */
  readonly holder: ModelHolder;
  readonly #logger: Logger;
  readonly #modelName: string | undefined;
  readonly #listeners = new Set<(result: ReloadResult, outcome: ReloadOutcome) => void>();
  /** SHA-256 of the served model's file. */
  #servedSha: string | undefined;
  /** The problem (a content's SHA-256, or an error) found by the last poll, not yet refused. */
  #suspect: string | undefined;
  /** The problem last refused, so that the same bad file is reported once. */
  #refused: string | undefined;
  /** The file's signature (or the error) last looked at; undefined: look again. */
  #seen: string | undefined;
  /** The checks run one at a time, in order. */
  #queue: Promise<unknown> = Promise.resolve();
  #busy = false;
  #timer: NodeJS.Timeout | undefined;
  #stopped = false;

  constructor(options: ModelReloaderOptions) {
    this.path = options.path;
    this.pollIntervalMs = options.pollIntervalMs;
    this.holder = options.holder;
    this.#logger = options.logger;
    this.#modelName = options.modelName;
  }

  /**
   * The first load: reads, validates and serves the file (the holder's
   * model from now on). Throws an IrisError naming the file, as
   * loadModelFile does, when it cannot be served.
   */
  async load(): Promise<ServedModel> {
    // Before the read, so that a change made while it is read is seen by the first poll; the read reports the problems.
    const before = await fileSignature(this.path).catch(() => undefined);
    const text = await readModelText(this.path);
    const served = serveModel(parseModel(text, this.path));
    this.holder.swap(served);
    this.#servedSha = sha256(text);
    this.#seen = before;
    return served;
  }

  /** Starts looking at the file every pollIntervalMs (nothing when 0). */
  start(): void {
    if (this.pollIntervalMs <= 0 || this.#stopped || this.#timer !== undefined) return;
    const tick = (): void => {
      this.#timer = undefined;
      // A SIGHUP reload in progress covers this poll.
      const check = this.#busy ? Promise.resolve() : this.#enqueue("poll");
      void check.then(() => {
        if (!this.#stopped) this.#timer = setTimeout(tick, this.pollIntervalMs).unref();
      });
    };
    this.#timer = setTimeout(tick, this.pollIntervalMs).unref();
  }

  /** Stops polling; a check in progress finishes without swapping. */
  stop(): void {
    this.#stopped = true;
    clearTimeout(this.#timer);
    this.#timer = undefined;
  }

  /** Looks at the file now, whatever its stat says (SIGHUP), and reloads it when its content differs from the served one's. */
  reload(trigger: ReloadTrigger = "SIGHUP"): Promise<ReloadOutcome | undefined> {
    return this.#enqueue(trigger);
  }

  /** Calls `listener` after every reload that swapped (success) or refused (failure); returns a function that unsubscribes. */
  onReload(listener: (result: ReloadResult, outcome: ReloadOutcome) => void): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  #enqueue(trigger: ReloadTrigger): Promise<ReloadOutcome | undefined> {
    const next = this.#queue.then(async () => {
      this.#busy = true;
      try {
        return await this.#check(trigger);
      } finally {
        this.#busy = false;
      }
    });
    this.#queue = next.catch(() => undefined);
    return next;
  }

  async #check(trigger: ReloadTrigger): Promise<ReloadOutcome | undefined> {
    const forced = trigger !== "poll";
    let before: string;
    try {
      before = await fileSignature(this.path);
    } catch (err) {
      return this.#problem(trigger, `error:${(err as Error).message}`, (err as Error).message);
    }
    if (!forced && before === this.#seen) return undefined;

    let text: string;
    try {
      text = await readModelText(this.path);
    } catch (err) {
      return this.#problem(trigger, `error:${(err as Error).message}`, (err as Error).message);
    }
    const after = await fileSignature(this.path).catch(() => undefined);
    if (after !== before && !forced) {
      // Written to while it was read: read it again at the next poll.
      this.#seen = undefined;
      this.#logger.debug({ path: this.path }, "the model file is being written; reading it again at the next poll");
      return undefined;
    }

    const sha = sha256(text);
    const current = this.holder.current;
    if (sha === this.#servedSha && current !== undefined) {
      this.#seen = after;
      this.#suspect = undefined;
      this.#refused = undefined;
      if (forced) this.#logger.info({ trigger, path: this.path, version: current.model.version }, "model file unchanged: nothing to reload");
      return { result: "unchanged", version: current.model.version };
    }

    const started = performance.now();
    let served: ServedModel;
    try {
      served = serveModel(parseModel(text, this.path));
      this.#checkName(served, current);
    } catch (err) {
      return this.#problem(trigger, sha, (err as Error).message, after);
    }
    if (this.#stopped) return undefined;
    const previous = this.holder.swap(served);
    this.#servedSha = sha;
    this.#seen = after;
    this.#suspect = undefined;
    this.#refused = undefined;
    const outcome: ReloadOutcome = { result: "success", version: served.model.version, previous: previous?.model.version };
    this.#logger.info(
      {
        trigger,
        path: this.path,
        from: previous?.model.version,
        to: served.model.version,
        buildMs: Number((performance.now() - started).toFixed(3)),
      },
      "model reloaded",
    );
    this.#emit("success", outcome);
    return outcome;
  }

  /**
   * A file that cannot be served (`key`: its content's hash, or the error).
   * A poll refuses it only when the previous poll found the same problem:
   * the first time, a writer may still be at work (an in-place write is a
   * truncate, then writes), so it is looked at again at the next poll. A
   * problem already refused is not reported again until the file changes;
   * SIGHUP refuses (and reports) at once.
   */
  #problem(trigger: ReloadTrigger, key: string, reason: string, signature?: string): ReloadOutcome | undefined {
    if (trigger === "poll") {
      if (key === this.#refused) {
        this.#seen = signature ?? key;
        return undefined;
      }
      if (key !== this.#suspect) {
        this.#suspect = key;
        this.#seen = undefined;
        this.#logger.debug({ path: this.path, reason }, "the model file cannot be served as it is; looking again at the next poll");
        return undefined;
      }
    }
    this.#suspect = undefined;
    this.#refused = key;
    this.#seen = signature ?? key;
    return this.#refuse(trigger, reason);
  }

  /** A new model must keep the name clients address it by, unless --model-name fixes that name. */
  #checkName(next: ServedModel, current: ServedModel | undefined): void {
    if (this.#modelName !== undefined || current === undefined) return;
    const [was, is] = [current.model.artifact.name, next.model.artifact.name];
    if (was !== is) {
      throw new IrisError(
        Code.FAILED_PRECONDITION,
        `${this.path}: the new model is named ${JSON.stringify(is)}, but clients of the Open Inference Protocol address the served one as ${JSON.stringify(was)}; ` +
          "give it the same name, or serve under a fixed name with --model-name",
      );
    }
  }

  #refuse(trigger: ReloadTrigger, reason: string): ReloadOutcome {
    const outcome: ReloadOutcome = { result: "failure", reason };
    const version = this.holder.current?.model.version;
    this.#logger.warn({ trigger, path: this.path, reason, version }, `model reload refused: still serving version ${version}`);
    this.#emit("failure", outcome);
    return outcome;
  }

  #emit(result: ReloadResult, outcome: ReloadOutcome): void {
    for (const listener of this.#listeners) listener(result, outcome);
  }
}
