/**
 * The published JSON Schema (schema/model.schema.json) is exactly the
 * schema in code, and an independent validator (Ajv, strict mode) accepts
 * the committed artifact against it and refuses the corruptions the
 * schema is there to catch.
 */
import { execFile } from "node:child_process";
import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { Ajv2020, type ValidateFunction } from "ajv/dist/2020.js";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ModelArtifactSchema, MODEL_SCHEMA_ID } from "../src/model/index.js";

const run = promisify(execFile);
const repo = fileURLToPath(new URL("../", import.meta.url));

let published: string;
let artifactText: string;
let validate: ValidateFunction;
let tmp: string;
beforeAll(async () => {
  published = await readFile(join(repo, "schema/model.schema.json"), "utf8");
  artifactText = await readFile(join(repo, "artifacts/model.json"), "utf8");
  validate = new Ajv2020({ strict: true, allErrors: true }).compile(JSON.parse(published) as object);
  tmp = await mkdtemp(join(tmpdir(), "iris-schema-"));
});
afterAll(async () => {
  await rm(tmp, { recursive: true, force: true });
});

describe("schema/model.schema.json", () => {
  it("is what `npm run generate:schema` writes from the schema in code (run it when this fails)", async () => {
    const fresh = join(tmp, "model.schema.json");
    await run(join(repo, "node_modules/.bin/tsx"), [join(repo, "scripts/generate-schema.ts"), fresh], { cwd: repo });
    expect(published).toBe(await readFile(fresh, "utf8"));
    expect(JSON.parse(published)).toEqual(JSON.parse(JSON.stringify(ModelArtifactSchema)));
  });

  it("declares itself (draft 2020-12, an id, a title) and describes every property", () => {
    const schema = JSON.parse(published) as Record<string, unknown>;
    expect(Object.keys(schema).slice(0, 4)).toEqual(["$schema", "$id", "title", "description"]);
    expect(schema.$schema).toBe("https://json-schema.org/draft/2020-12/schema");
    expect(schema.$id).toBe(MODEL_SCHEMA_ID);
    const undocumented: string[] = [];
    const walk = (node: unknown, path: string): void => {
      if (typeof node !== "object" || node === null) return;
      const n = node as { properties?: Record<string, { description?: string }>; items?: unknown; anyOf?: unknown[] };
      for (const [key, property] of Object.entries(n.properties ?? {})) {
        if (!property.description) undocumented.push(`${path}.${key}`);
        walk(property, `${path}.${key}`);
      }
      walk(n.items, `${path}[]`);
      for (const branch of n.anyOf ?? []) walk(branch, path);
    };
    walk(schema, "$");
    expect(undocumented).toEqual([]);
  });
});

describe("the committed artifact against the published schema, with Ajv", () => {
  it("validates", () => {
    expect(validate(JSON.parse(artifactText)), JSON.stringify(validate.errors)).toBe(true);
  });

  /** Ajv's errors for the artifact text altered by `edit`, as [instancePath, keyword]. */
  function ajvErrors(edit: (a: Record<string, Record<string, unknown>>) => void, text = artifactText): string[][] {
    const a = JSON.parse(text) as Record<string, Record<string, unknown>>;
    edit(a);
    expect(validate(a)).toBe(false);
    return (validate.errors ?? []).map((e) => [e.instancePath, e.keyword]);
  }

  it.each<[string, (a: Record<string, Record<string, unknown>>) => void, string[]]>([
    ["a string seed", (a) => (a.hyperparameters!.seed = "42"), ["/hyperparameters/seed", "type"]],
    ["a seed of 2^60", (a) => (a.hyperparameters!.seed = 2 ** 60), ["/hyperparameters/seed", "maximum"]],
    ["a string maxIter", (a) => (a.hyperparameters!.maxIter = "100"), ["/hyperparameters/maxIter", "type"]],
    ["an unknown key", (a) => (a.hyperparameters!.sed = 1), ["/hyperparameters", "additionalProperties"]],
    ["a missing training.dataset", (a) => delete a.training!.dataset, ["/training", "required"]],
  ])("refuses %s", (_name, edit, error) => {
    expect(ajvErrors(edit)).toContainEqual(error);
  });

  it("refuses 1e999, which JSON.parse reads as Infinity", () => {
    const text = artifactText.replace(/"objectiveValue": [^\n]+\n/, '"objectiveValue": 1e999\n');
    expect(text).not.toBe(artifactText);
    expect(ajvErrors(() => {}, text)).toContainEqual(["/training/optimizer/objectiveValue", expect.stringMatching(/^(type|maximum)$/)]);
  });
});
