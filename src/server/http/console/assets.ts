/**
 * The console's static assets: its script (src/console/, bundled by
 * `npm run build` into dist/console/console.js), its stylesheet (the
 * training report's chart rules and the console's own, ./style.ts) and its
 * icon. Each is served under a name that carries a hash of its content, so
 * browsers may keep it for a year and never see a stale one: the page names
 * the current hashes.
 *
 * The script is read from disk once, on the first request for the page
 * (nothing at start-up). Running the compiled server, the bundle sits
 * beside it (dist/console/, two levels up from dist/server/http/console/);
 * running from source (tsx, tests), it is the checkout's dist/console/.
 * When it has not been built, the page is served without it: the model
 * card needs no script.
 */
import { createHash } from "node:crypto";
import { readFile } from "node:fs/promises";
import { fileURLToPath } from "node:url";
import { CONSOLE_STYLE } from "./style.js";

/** One asset: its bytes, Content-Type and the hashed path it is served at. */
interface Asset {
  readonly path: string;
  readonly type: string;
  readonly body: Buffer;
  /** A strong validator for conditional requests. */
  readonly etag: string;
}

export interface ConsoleAssets {
  readonly style: Asset;
  readonly icon: Asset;
  /** The bundled script; undefined when dist/console/console.js was not built. */
  readonly script: Asset | undefined;
  /** Every asset by its path. */
  readonly byPath: ReadonlyMap<string, Asset>;
}

/** Where the console's assets are served; the console's own JSON lives here too. */
export const ASSET_PREFIX = "/console/";

const SCRIPT_FILE = "console.js";
/** The places the bundle may be, first found wins: beside the compiled server, then the checkout's dist/. */
const SCRIPT_CANDIDATES = [
  new URL(`../../../console/${SCRIPT_FILE}`, import.meta.url),
  new URL(`../../../../dist/console/${SCRIPT_FILE}`, import.meta.url),
];

/** A small iris (three petals), in the page's accent colour. */
const ICON = `<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 32 32"><g fill="#4b3f9e"><ellipse cx="16" cy="9" rx="5" ry="8"/><ellipse cx="9" cy="20" rx="5" ry="8" transform="rotate(-60 9 20)"/><ellipse cx="23" cy="20" rx="5" ry="8" transform="rotate(60 23 20)"/></g><circle cx="16" cy="17" r="3" fill="#f2c14e"/></svg>`;

export function hashOf(body: Buffer | string): string {
  return createHash("sha256").update(body).digest("hex").slice(0, 16);
}

function asset(name: string, extension: string, type: string, body: Buffer): Asset {
  const hash = hashOf(body);
  return { path: `${ASSET_PREFIX}${name}-${hash}.${extension}`, type, body, etag: `"${hash}"` };
}

async function readScript(): Promise<Buffer | undefined> {
  for (const candidate of SCRIPT_CANDIDATES) {
    try {
      return await readFile(fileURLToPath(candidate));
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== "ENOENT") throw err;
    }
  }
  return undefined;
}

/** Reads the assets (the script from disk). */
export async function loadConsoleAssets(): Promise<ConsoleAssets> {
  const style = asset("console", "css", "text/css; charset=utf-8", Buffer.from(CONSOLE_STYLE, "utf8"));
  const icon = asset("icon", "svg", "image/svg+xml", Buffer.from(ICON, "utf8"));
  const bytes = await readScript();
  const script = bytes === undefined ? undefined : asset("console", "js", "text/javascript; charset=utf-8", bytes);
  const all = [style, icon, ...(script ? [script] : [])];
  return { style, icon, script, byPath: new Map(all.map((a) => [a.path, a])) };
}
