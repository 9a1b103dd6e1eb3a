/**
 * Writing a set of files so that a crash never leaves a half-written one:
 * each file goes to a temporary file in the same directory, is flushed to
 * disk (fsync), and only when every file has been written are they renamed
 * over their targets (rename is atomic within a directory). The directory is
 * then synced so the renames themselves survive a crash.
 */
import { randomBytes } from "node:crypto";
import { mkdir, open, rename, rm } from "node:fs/promises";
import { join } from "node:path";

export interface OutputFile {
  /** File name inside the output directory. */
  name: string;
  content: string;
}

/** Writes `files` into `dir` (created if missing); returns their paths, in order. */
export async function writeFilesAtomically(dir: string, files: readonly OutputFile[]): Promise<string[]> {
  await mkdir(dir, { recursive: true });
  const tag = `${process.pid}-${randomBytes(4).toString("hex")}`;
  const staged: { temp: string; target: string }[] = [];
  try {
    for (const file of files) {
      const temp = join(dir, `.${file.name}.${tag}.tmp`);
      staged.push({ temp, target: join(dir, file.name) });
      const handle = await open(temp, "wx", 0o644);
      try {
        await handle.writeFile(file.content, "utf8");
        await handle.sync();
      } finally {
        await handle.close();
      }
    }
    for (const { temp, target } of staged) await rename(temp, target);
  } catch (err) {
    await Promise.all(staged.map(({ temp }) => rm(temp, { force: true })));
    throw err;
  }
  await syncDirectory(dir);
  return staged.map((s) => s.target);
}

async function syncDirectory(dir: string): Promise<void> {
  let handle;
  try {
    handle = await open(dir, "r");
    await handle.sync();
  } catch {
    // Some platforms (Windows) cannot open or sync a directory; the renames are done regardless.
  } finally {
    await handle?.close();
  }
}
