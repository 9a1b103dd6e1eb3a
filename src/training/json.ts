/**
 * Deterministic, readable JSON for the artifacts: keys in the order the
 * objects were built, numbers as JavaScript's shortest round-trip form
 * (exact, the same on every platform), arrays of plain values on one line.
 * Refuses non-finite numbers instead of silently writing `null`.
 */

export function formatJson(value: unknown): string {
  return `${format(value, "", "$")}\n`;
}

function isPlain(v: unknown): boolean {
  return v === null || typeof v === "number" || typeof v === "string" || typeof v === "boolean";
}

function format(value: unknown, indent: string, path: string): string {
  if (typeof value === "number") {
    if (!Number.isFinite(value)) throw new RangeError(`${path}: cannot write non-finite number ${value} as JSON`);
    return JSON.stringify(value);
  }
  if (value === null || typeof value === "string" || typeof value === "boolean") return JSON.stringify(value);
  const inner = `${indent}  `;
  if (Array.isArray(value)) {
    if (value.length === 0) return "[]";
    if (value.every(isPlain)) return `[${value.map((v, i) => format(v, inner, `${path}[${i}]`)).join(", ")}]`;
    return `[\n${value.map((v, i) => `${inner}${format(v, inner, `${path}[${i}]`)}`).join(",\n")}\n${indent}]`;
  }
  if (typeof value === "object") {
    const entries = Object.entries(value as Record<string, unknown>).filter(([, v]) => v !== undefined);
    if (entries.length === 0) return "{}";
    const body = entries.map(([k, v]) => `${inner}${JSON.stringify(k)}: ${format(v, inner, `${path}.${k}`)}`);
    return `{\n${body.join(",\n")}\n${indent}}`;
  }
  throw new TypeError(`${path}: cannot write ${typeof value} as JSON`);
}
