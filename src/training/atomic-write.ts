/**
 * Writing a set of files so that a crash never leaves a half-written one:
 * each file goes to a temporary file in the same directory, is flushed to
 * disk (fsync), and only when every file has been written are they renamed
 * over their targets (rename is atomic within a directory). The directory is
 * then synced so the renames themselves survive a crash.
 *
 * A target that is a directory is refused before anything is written (a
 * rename onto it would fail half-way through the set), and directories this
 * call created are removed again when it fails.
 */
import { randomBytes } from "node:crypto";
import { lstat, mkdir, open, rename, rm, rmdir, stat } from "node:fs/promises";
import { dirname, join, relative } from "node:path";

export interface OutputFile {
  /** File name inside the output directory. */
  name: string;
  content: string;
}

/** Writes `files` into `dir` (created if missing); returns their paths, in order. */
export async function writeFilesAtomically(dir: string, files: readonly OutputFile[]): Promise<string[]> {
  for (const file of files) {
    const target = join(dir, file.name);
    const stats = await lstat(target).catch(() => undefined);
    if (stats?.isDirectory()) {
      throw Object.assign(new Error(`EISDIR: ${target} is a directory`), { code: "EISDIR", path: target });
    }
  }
  const created = await makeDirectories(dir);
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
    if (created !== undefined) await removeEmptyDirectories(dir, created);
    throw err;
  }
  await syncDirectory(dir);
  return staged.map((s) => s.target);
}

/**
 * `mkdir -p`: creates `dir` and missing parents; returns the topmost
 * directory it created (undefined when `dir` existed). Unlike
 * `mkdir(dir, { recursive: true })`, which spins forever where mkdir keeps
 * failing with ENOENT under an existing parent (procfs), it tries each level
 * once.
 */
async function makeDirectories(dir: string): Promise<string | undefined> {
  try {
    await mkdir(dir);
    return dir;
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === "EEXIST" && (await stat(dir)).isDirectory()) return undefined;
    const parent = dirname(dir);
    if (code !== "ENOENT" || parent === dir) throw err;
    const created = await makeDirectories(parent);
    try {
      await mkdir(dir);
    } catch (again) {
      if (created !== undefined) await removeEmptyDirectories(parent, created);
      throw again;
    }
    return created ?? dir;
  }
}

/** Removes `dir` and its parents up to `top` while they are empty (as mkdir left them). */
async function removeEmptyDirectories(dir: string, top: string): Promise<void> {
  for (let d = dir; ; d = dirname(d)) {
    try {
      await rmdir(d);
    } catch {
      return; // not empty (someone else wrote there) or already gone: leave it
    }
    if (relative(top, d) === "") return;
  }
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
