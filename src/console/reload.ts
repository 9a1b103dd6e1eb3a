/**
 * Noticing a model swap (a hot reload): `/console/model.json` is read every
 * 2 s; when the version or load time changes, the page fetches `/` again
 * and takes the new model card and header from it (the server renders them,
 * one source for both), tells the rest of the page, and says what changed
 * in the header's status line.
 */
import { readData, type ConsoleData } from "./data.js";
import { byId } from "./dom.js";

const POLL_MS = 2_000;

export function watchModel(initial: ConsoleData, onSwap: (data: ConsoleData) => void): void {
  let current = initial;
  const notice = byId("model-notice");
  const poll = async (): Promise<void> => {
    try {
      const response = await fetch("/console/model.json", { cache: "no-store" });
      if (response.status === 503) {
        notice.textContent = "No model is loaded at the moment.";
        return;
      }
      if (!response.ok) return;
      const next = (await response.json()) as ConsoleData;
      if (next.version === current.version && next.loadedAt === current.loadedAt) return;
      const page = new DOMParser().parseFromString(await (await fetch("/", { cache: "no-store" })).text(), "text/html");
      const data = readData(page);
      if (data === undefined) return;
      // The page's own HTML, from this server: the card and header as rendered for the new model.
      byId("card").innerHTML = byId("card", page).innerHTML;
      for (const selector of ["h1", ".meta"]) {
        const fresh = page.querySelector(`#model-header ${selector}`);
        const old = document.querySelector(`#model-header ${selector}`);
        if (fresh && old) old.replaceWith(document.importNode(fresh, true));
      }
      const time = new Date().toLocaleTimeString([], { hour12: false });
      notice.textContent =
        data.version === current.version
          ? `Model ${data.version} was reloaded at ${time}.`
          : `Model swapped at ${time}: ${current.version} → ${data.version}.`;
      current = data;
      onSwap(data);
    } catch {
      // The server is away (restarting?): try again at the next tick.
    } finally {
      setTimeout(() => void poll(), POLL_MS);
    }
  };
  setTimeout(() => void poll(), POLL_MS);
}
