/**
 * Writes the model artifact's JSON Schema, as defined in
 * src/model/artifact-schema.ts, to schema/model.schema.json (or to the path
 * given), header keywords first. A test fails when the committed file
 * differs from what this writes.
 *
 *   npm run generate:schema
 */
import { writeFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { ModelArtifactSchema } from "../src/model/index.js";

const out = process.argv[2] ?? fileURLToPath(new URL("../schema/model.schema.json", import.meta.url));
const schema: Record<string, unknown> = { ...ModelArtifactSchema };
const { $schema, $id, title, description, ...rest } = schema;
writeFileSync(out, `${JSON.stringify({ $schema, $id, title, description, ...rest }, null, 2)}\n`);
console.log(`wrote ${out}`);
