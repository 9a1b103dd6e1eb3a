/**
 * Writing a set of files as one: readers see the old set or the new one,
 * never a mix, and a crash at any moment leaves no half-written file.
 *
 *   1. Stage: a new directory beside the target, `.<name>.new-<pid>-<tag>`,
 *      receives every file, each written and flushed to disk (fsync), then
 *      the directory itself is synced.
 *   2. Swap: the target directory (when there is one) is renamed to
 *      `.<name>.old-<pid>-<tag>`, the new one is renamed to the target, and
 *      the parent is synced. Renames are atomic within a file system.
 *   3. The old directory is removed.
 *
 * A crash between the two renames of step 2 leaves no target but both
 * complete sets: the next write recovers first (the new set, which was
 * complete before the first rename, is moved in), as it removes what runs
 * that died left behind. The target may hold only files of the set: anything
 * else in it would be lost with the old directory, so it is refused; and a
 * file of the set that is a directory there is refused before anything is
 * written. Directories this call created are removed again when it fails.
 */
import { randomBytes } from "node:crypto";
import { lstat, mkdir, open, readdir, rename, rm, rmdir, stat, chmod } from "node:fs/promises";
import { basename, dirname, join, relative } from "node:path";

export interface OutputFile {
  /** File name inside the output directory. */
  name: string;
  content: string;
}

/** The hidden siblings a write of `dir` makes: `.<name>.new-<pid>-<tag>` and `.<name>.old-<pid>-<tag>`. */
function siblingPattern(dir: string): RegExp {
  const name = basename(dir).replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
  return new RegExp(`^\\.${name}\\.(new|old)-(\\d+)-([0-9a-f]+)$`);
}

function errno(code: string, message: string, path: string): NodeJS.ErrnoException {
  return Object.assign(new Error(`${code}: ${message}`), { code, path });
}

/** Whether the process `pid` still runs (a write of the same directory may be in progress there). */
function alive(pid: number): boolean {
  if (pid === process.pid) return true;
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === "EPERM";
  }
}

/**
 * Finishes or removes what writes of `dir` that died left beside it: a swap
 * cut between its two renames is completed; staging directories and old sets
 * are removed. Returns the leftovers it found (for tests and messages).
 */
export async function recoverFileSet(dir: string): Promise<string[]> {
  const parent = dirname(dir);
  const pattern = siblingPattern(dir);
  const entries = await readdir(parent).catch(() => [] as string[]);
  const found = entries.flatMap((entry) => {
    const m = pattern.exec(entry);
    return m ? [{ entry, kind: m[1] as "new" | "old", pid: Number(m[2]), tag: `${m[2]}-${m[3]}` }] : [];
  });
  const dead = found.filter((f) => !alive(f.pid));
  const exists = await lstat(dir).then(
    () => true,
    () => false,
  );
  if (!exists) {
    // A swap cut after `dir` was moved aside: its staged set is complete.
    const cut = dead.find((f) => f.kind === "old");
    const staged = cut && dead.find((f) => f.kind === "new" && f.tag === cut.tag);
    if (staged) await rename(join(parent, staged.entry), dir);
    else if (cut) await rename(join(parent, cut.entry), dir);
  }
  for (const f of dead) await rm(join(parent, f.entry), { recursive: true, force: true });
  return dead.map((f) => f.entry);
}

/**
 * The entries of an existing `dir` that are not files of the set (they
 * would be lost with it); none when `dir` is absent. The temporary files an
 * earlier version of the trainer left there when killed
 * (`.model.json.<pid>-<tag>.tmp`) are its own, not foreign.
 */
export async function foreignEntries(dir: string, names: readonly string[]): Promise<string[]> {
  const entries = await readdir(dir).catch((err: NodeJS.ErrnoException) => {
    if (err.code === "ENOENT" || err.code === "ENOTDIR") return [] as string[];
    throw err;
  });
  const ours = (entry: string): boolean => names.includes(entry) || names.some((n) => entry.startsWith(`.${n}.`) && entry.endsWith(".tmp"));
  return entries.filter((e) => !ours(e)).sort();
}

/** Writes `files` as the whole content of `dir` (created if missing); returns their paths, in order. */
export async function writeFileSet(dir: string, files: readonly OutputFile[]): Promise<string[]> {
  await recoverFileSet(dir);
  const names = files.map((f) => f.name);
  const foreign = await foreignEntries(dir, names);
  if (foreign.length > 0) {
    throw errno("ENOTEMPTY", `${dir} also holds ${foreign.join(", ")}, which replacing the directory would lose`, dir);
  }
  for (const name of names) {
    const target = join(dir, name);
    const stats = await lstat(target).catch(() => undefined);
    if (stats?.isDirectory()) throw errno("EISDIR", `${target} is a directory`, target);
  }
  const previous = await stat(dir).catch(() => undefined);
  const parent = dirname(dir);
  const created = await makeDirectories(parent);
  const tag = `${process.pid}-${randomBytes(4).toString("hex")}`;
  const staging = join(parent, `.${basename(dir)}.new-${tag}`);
  const aside = join(parent, `.${basename(dir)}.old-${tag}`);
  try {
    await mkdir(staging);
    if (previous !== undefined) await chmod(staging, previous.mode & 0o7777);
    for (const file of files) {
      const handle = await open(join(staging, file.name), "wx", 0o644);
      try {
        await handle.writeFile(file.content, "utf8");
        await handle.sync();
      } finally {
        await handle.close();
      }
    }
    await syncDirectory(staging);
    if (previous !== undefined) await rename(dir, aside);
    try {
      await rename(staging, dir);
    } catch (err) {
      if (previous !== undefined) await rename(aside, dir);
      throw err;
    }
  } catch (err) {
    await rm(staging, { recursive: true, force: true });
    if (created !== undefined) await removeEmptyDirectories(parent, created);
    throw err;
  }
  await syncDirectory(parent);
  await rm(aside, { recursive: true, force: true });
  return names.map((name) => join(dir, name));
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
