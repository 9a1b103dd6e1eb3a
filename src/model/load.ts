/** Reading a model artifact from disk: the only I/O in src/model. */
import { readFile, stat } from "node:fs/promises";
import { join } from "node:path";
import { Code, fileProblem, IrisError, isNotFound } from "../errors.js";
import { validateArtifact } from "./artifact.js";
import { IrisModel } from "./model.js";

/**
 * Where JSON.parse stopped, as `line:column` (1-based), when its message
 * says: V8 gives "at position N" for most errors, and nothing for a text
 * that ends too early, which fails at its end.
 */
function syntaxErrorPosition(text: string, message: string): string | undefined {
  const match = /at position (\d+)/.exec(message);
  const offset = match ? Number(match[1]) : /end of JSON input/.test(message) ? text.length : undefined;
  if (offset === undefined) return undefined;
  const lines = text.slice(0, offset).split(/\r\n|\r|\n/);
  return `${lines.length}:${lines.at(-1)!.length + 1}`;
}

/** Parses and validates artifact JSON text; `source` names it in errors. */
export function parseModel(text: string, source = "model"): IrisModel {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (err) {
    const message = (err as Error).message.replace(/\s+/g, " ");
    const position = syntaxErrorPosition(text, message);
    throw new IrisError(Code.FAILED_PRECONDITION, `${source}${position ? `:${position}` : ""}: not valid JSON: ${message}`);
  }
  return new IrisModel(validateArtifact(json, source));
}

/** The file `MODEL_FILE` in `path` when `path` is a directory (as KServe's storage initializer fills /mnt/models), else `path`. */
export async function resolveModelPath(path: string): Promise<string> {
  const info = await stat(path).catch(() => undefined);
  return info?.isDirectory() ? join(path, MODEL_FILE) : path;
}

/** The artifact's file name in a model directory. */
export const MODEL_FILE = "model.json";

/** Reads, parses and fully validates a model artifact file. */
export async function loadModelFile(path: string): Promise<IrisModel> {
  let text: string;
  try {
    text = await readFile(path, "utf8");
  } catch (err) {
    if (isNotFound(err)) throw new IrisError(Code.NOT_FOUND, `${path}: model file not found`, { cause: err });
    throw new IrisError(Code.FAILED_PRECONDITION, `${path}: cannot read model file: ${fileProblem(err)}`, { cause: err });
  }
  return parseModel(text, path);
}
