/**
 * The committed generated code must be exactly what `npm run generate`
 * makes: src/gen/ from proto/ (the ts-proto stubs and the reflection
 * descriptor set), src/model/gen/ from scripts/generate-kernel.ts (the
 * WebAssembly batch kernel). And the contract must pass buf lint.
 */
import { execFile } from "node:child_process";
import { mkdtemp, readdir, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join, relative } from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { afterEach, describe, expect, it } from "vitest";

const run = promisify(execFile);
const repo = fileURLToPath(new URL("../", import.meta.url));
const buf = join(repo, "node_modules", ".bin", "buf");

async function files(dir: string): Promise<Map<string, string>> {
  const out = new Map<string, string>();
  for (const entry of await readdir(dir, { recursive: true, withFileTypes: true })) {
    if (!entry.isFile()) continue;
    const path = join(entry.parentPath, entry.name);
    out.set(relative(dir, path), await readFile(path, "utf8"));
  }
  return out;
}

describe("generated code", () => {
  let tmp: string | undefined;
  afterEach(async () => {
    if (tmp) await rm(tmp, { recursive: true, force: true });
  });

  it("src/gen is up to date with proto/ (run `npm run generate` when this fails)", async () => {
    tmp = await mkdtemp(join(tmpdir(), "iris-gen-"));
    // What the `generate` script runs, into a scratch directory.
    await run(buf, ["generate", "--output", tmp], { cwd: repo });
    const fresh = await files(join(tmp, "src/gen"));
    const committed = await files(join(repo, "src/gen"));
    expect([...committed.keys()].sort()).toEqual([...fresh.keys()].sort());
    expect(fresh.size).toBeGreaterThanOrEqual(4);
    for (const [name, text] of fresh) expect(committed.get(name), name).toBe(text);
  });

  it("src/model/gen is what scripts/generate-kernel.ts writes (run `npm run generate` when this fails)", async () => {
    tmp = await mkdtemp(join(tmpdir(), "iris-kernel-"));
    const out = join(tmp, "softmax-kernel.ts");
    await run(process.execPath, ["--import", "tsx", "scripts/generate-kernel.ts", out], { cwd: repo });
    expect(await files(join(repo, "src/model/gen"))).toEqual(new Map([["softmax-kernel.ts", await readFile(out, "utf8")]]));
  });

  it("proto/ passes buf lint", async () => {
    const { stdout, stderr } = await run(buf, ["lint"], { cwd: repo });
    expect(stdout + stderr).toBe("");
  });
});
