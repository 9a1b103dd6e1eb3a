/**
 * Shared by the offline YAML validators (validate-k8s.ts,
 * validate-kserve.ts, validate-workflows.ts): how a field is named in a
 * message and where it stands in the file.
 */
import { isMap, isSeq, type LineCounter, type Node as YamlNode } from "yaml";

/** One step of a path into a YAML document: a map key or a sequence index. */
export type PathKey = string | number;

/** The dotted path of a field, e.g. `spec.template.spec.containers[0].image`. */
export function fieldPath(keys: readonly PathKey[]): string {
  return keys.reduce<string>(
    (acc, key) => (typeof key === "number" ? `${acc}[${key}]` : acc === "" ? key : `${acc}.${key}`),
    "",
  );
}

/**
 * Where the field at `keys` below `root` stands in the text (1-based line and
 * column): at its key when it has one, else at its value. A path that goes
 * past what the document holds points at the deepest part that exists, or at
 * `startOffset` when not even its first step does.
 */
export function fieldPosition(
  root: unknown,
  keys: readonly PathKey[],
  lines: LineCounter,
  startOffset = 0,
): { line: number; column: number } {
  let offset = startOffset;
  let node = root;
  for (const key of keys) {
    if (isMap(node)) {
      const pair = node.items.find((item) => (item.key as { value?: unknown } | null)?.value === key);
      if (!pair) break;
      offset = (pair.key as YamlNode).range?.[0] ?? offset;
      node = pair.value;
    } else if (isSeq(node) && typeof key === "number" && node.items[key]) {
      node = node.items[key];
      offset = (node as YamlNode).range?.[0] ?? offset;
    } else break;
  }
  const { line, col } = lines.linePos(offset);
  return { line, column: col };
}
