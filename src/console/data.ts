/**
 * What the page tells the script about the served model: the JSON data
 * block `#console-data` (written by the server's console page,
 * src/server/http/console/page.ts `consoleData`), and the same object from
 * `/console/model.json`.
 */
export interface FeatureRange {
  name: string;
  unit: string;
  min: number;
  max: number;
}

export interface ConsoleData {
  /** The model's name in the Open Inference Protocol. */
  modelName: string;
  version: string;
  /** ISO 8601. */
  loadedAt: string;
  grpcPort: number;
  maxBatchRows: number;
  /** Whether the server serves `GET /metrics`. */
  metrics: boolean;
  classes: string[];
  features: FeatureRange[];
}

/** The data block of a page (this one, or one fetched after a model swap); undefined when it has none. */
export function readData(doc: Document): ConsoleData | undefined {
  const text = doc.getElementById("console-data")?.textContent;
  return text ? (JSON.parse(text) as ConsoleData) : undefined;
}
