/** Reading a model artifact from disk: the only I/O in src/model. */
import { readFile } from "node:fs/promises";
import { Code, IrisError } from "../errors.js";
import { validateArtifact } from "./artifact.js";
import { IrisModel } from "./model.js";

/** Parses and validates artifact JSON text; `source` names it in errors. */
export function parseModel(text: string, source = "model"): IrisModel {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (err) {
    throw new IrisError(Code.FAILED_PRECONDITION, `${source}: not valid JSON: ${(err as Error).message}`);
  }
  return new IrisModel(validateArtifact(json, source));
}

/** Reads, parses and fully validates a model artifact file. */
export async function loadModelFile(path: string): Promise<IrisModel> {
  let text: string;
  try {
    text = await readFile(path, "utf8");
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === "ENOENT") throw new IrisError(Code.NOT_FOUND, `${path}: model file not found`, { cause: err });
    throw new IrisError(Code.FAILED_PRECONDITION, `${path}: cannot read model file: ${(err as Error).message}`, {
      cause: err,
    });
  }
  return parseModel(text, path);
}
