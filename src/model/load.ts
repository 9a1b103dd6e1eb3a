/** Reading a model artifact from disk: the only I/O in src/model. */
import { constants, type Stats } from "node:fs";
import { open, stat, type FileHandle } from "node:fs/promises";
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

/**
 * The largest model file read: 4 MiB. A trained iris artifact is about 7 KB
 * (a 32-feature, 32-class one well under 1 MB); anything near the limit is
 * not a model, and reading it whole would cost every start, reload and
 * ModelInfo answer.
 */
const MAX_MODEL_FILE_BYTES = 4 * 1024 * 1024;

/**
 * The text of a model artifact file. The file is opened without blocking
 * and checked before anything is read: it must be a regular file (not a
 * FIFO, which would block start-up, nor a device such as /dev/zero) of at
 * most MAX_MODEL_FILE_BYTES; and no more than that is read even if it grows
 * meanwhile. Every failure is an IrisError naming the file.
 */
export async function readModelText(path: string): Promise<string> {
  let handle: FileHandle;
  try {
    handle = await open(path, constants.O_RDONLY | constants.O_NONBLOCK);
  } catch (err) {
    if (isNotFound(err)) throw new IrisError(Code.NOT_FOUND, `${path}: model file not found`, { cause: err });
    throw new IrisError(Code.FAILED_PRECONDITION, `${path}: cannot read model file: ${fileProblem(err)}`, { cause: err });
  }
  try {
    const info = await handle.stat();
    if (info.isDirectory()) throw new IrisError(Code.FAILED_PRECONDITION, `${path}: cannot read model file: ${fileProblem({ code: "EISDIR" })}`);
    if (!info.isFile()) {
      throw new IrisError(Code.FAILED_PRECONDITION, `${path}: not a regular file (${kindOf(info)}); a model is a JSON file`);
    }
    if (info.size > MAX_MODEL_FILE_BYTES) {
      throw new IrisError(
        Code.FAILED_PRECONDITION,
        `${path}: ${info.size} bytes, over the ${MAX_MODEL_FILE_BYTES}-byte limit of a model file; this is not a model artifact`,
      );
    }
    const buffer = Buffer.alloc(Math.min(info.size + 1, MAX_MODEL_FILE_BYTES + 1));
    let length = 0;
    for (;;) {
      const { bytesRead } = await handle.read(buffer, length, buffer.length - length, length);
      if (bytesRead === 0) break;
      length += bytesRead;
      if (length === buffer.length) break;
    }
    if (length > MAX_MODEL_FILE_BYTES) {
      throw new IrisError(Code.FAILED_PRECONDITION, `${path}: grew past the ${MAX_MODEL_FILE_BYTES}-byte limit of a model file while being read`);
    }
    return buffer.toString("utf8", 0, length);
  } catch (err) {
    if (err instanceof IrisError) throw err;
    throw new IrisError(Code.FAILED_PRECONDITION, `${path}: cannot read model file: ${fileProblem(err)}`, { cause: err });
  } finally {
    await handle.close();
  }
}

/** Reads, parses and fully validates a model artifact file (see readModelText). */
export async function loadModelFile(path: string): Promise<IrisModel> {
  return parseModel(await readModelText(path), path);
}

function kindOf(info: Stats): string {
  if (info.isFIFO()) return "a FIFO";
  if (info.isCharacterDevice()) return "a character device";
  if (info.isBlockDevice()) return "a block device";
  if (info.isSocket()) return "a socket";
  return "not a file";
}
