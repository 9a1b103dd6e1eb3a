/**
 * Where a training run's files go: `--out` is checked before any work, and
 * the files are written there atomically. File-system failures are said in
 * words (errors.ts fileProblem).
 */
import { stat } from "node:fs/promises";
import { Code, fileProblem, IrisError } from "../errors.js";
import { foreignEntries, writeFileSet, type OutputFile } from "./atomic-write.js";

/** The files a run writes: together, the whole content of --out (see ./atomic-write.ts). */
export const OUTPUT_FILES = ["report.md", "report.html", "metrics.json", "model.json"] as const;

/** Why a file-system call failed, in words (the error's own message otherwise), after the path it names. */
function fileSystemReason(err: unknown): string {
  const e = err as NodeJS.ErrnoException;
  const reason = fileProblem(err);
  return reason !== e.message && e.path !== undefined ? `${e.path}: ${reason}` : reason;
}

/**
 * `--out` must be a directory or not exist yet (it is then created): a file
 * there, or a file where a parent directory should be, is a usage error
 * found before any training.
 */
export async function checkOutputDirectory(out: string): Promise<void> {
  let isDirectory: boolean;
  try {
    isDirectory = (await stat(out)).isDirectory();
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "ENOTDIR") {
      throw new IrisError(Code.INVALID_ARGUMENT, `--out ${out}: ${fileProblem(err)}`);
    }
    return; // absent: created when writing; anything else (permissions) is reported then
  }
  if (!isDirectory) throw new IrisError(Code.INVALID_ARGUMENT, `--out ${out} is a file, not a directory`);
  const foreign = await foreignEntries(out, OUTPUT_FILES);
  if (foreign.length > 0) {
    throw new IrisError(
      Code.INVALID_ARGUMENT,
      `--out ${out} also holds ${foreign.join(", ")}: the trainer replaces the whole directory with its ${OUTPUT_FILES.length} files ` +
        "(so that they change together), which would lose them; move them, or choose another --out",
    );
  }
}

/**
 * Writes a run's files into `options.out`, as one set (./atomic-write.ts);
 * returns their paths.
 * A failure is UNAVAILABLE (CLI exit 1).
 */
export async function writeTrainingOutputs(run: {
  options: { out: string };
  files: readonly OutputFile[];
}): Promise<string[]> {
  try {
    return await writeFileSet(run.options.out, run.files);
  } catch (err) {
    throw new IrisError(Code.UNAVAILABLE, `cannot write to ${run.options.out}: ${fileSystemReason(err)}`, {
      cause: err,
    });
  }
}
