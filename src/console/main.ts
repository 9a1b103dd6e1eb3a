/**
 * The web console's script (bundled into dist/console/console.js): brings
 * Try it, Batch and Live to life on the page the server rendered, and keeps
 * it in step with the served model. The model card is the server's HTML and
 * needs none of this.
 */
import { startBatch } from "./batch.js";
import { readData } from "./data.js";
import { startLive } from "./live.js";
import { watchModel } from "./reload.js";
import { startTryIt } from "./try-it.js";

const data = readData(document);
if (data !== undefined) {
  const tryIt = startTryIt(data);
  const batch = startBatch(data);
  const live = startLive(data);
  watchModel(data, (next) => {
    tryIt.update(next);
    batch.update(next);
    live.setClasses(next.classes);
  });
}
