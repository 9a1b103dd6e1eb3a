/**
 * Number and text formatting shared by the report's renderers (and its
 * charts). Dependency-free.
 */

/** `1 iteration`, `8 iterations`. */
export function plural(count: number, noun: string): string {
  return `${count} ${noun}${count === 1 ? "" : "s"}`;
}

/** A share as a percentage: `93.3 %`. */
export const pct = (v: number, digits = 1): string => `${(v * 100).toFixed(digits)} %`;
/** Fixed decimals: `0.967`. */
export const fixed = (v: number, digits = 3): string => v.toFixed(digits);
/** One significant decimal in scientific notation: `9.9e-15`. */
export const sci = (v: number): string => v.toExponential(1);

/** Text made safe inside HTML and SVG elements and attributes. */
export function escapeHtml(s: string): string {
  return s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}
