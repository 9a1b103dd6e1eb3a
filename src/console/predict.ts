/** Calls `POST /predict` on the page's own server, as any client does. */

/** The answer for one flower (`out_of_range`: the server's own flag, when it gives one). */
export interface PredictAnswer {
  prediction: number;
  species: string;
  probabilities: number[];
  model_version: string;
  out_of_range?: string[];
}

/** The answer for a batch: every key holds one entry per row. */
export interface BatchAnswer {
  prediction: number[];
  species: string[];
  probabilities: number[][];
  model_version: string;
  out_of_range?: string[][];
}

async function post<T>(features: number[] | number[][]): Promise<T> {
  const response = await fetch("/predict", {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ features }),
  });
  const body = (await response.json().catch(() => undefined)) as { error?: string } | undefined;
  // An error answer's one line (`error`) is the message.
  if (!response.ok) throw new Error(body?.error ?? `the server answered ${response.status}`);
  return body as T;
}

/** One flower, measurements in FEATURES order. */
export const predictOne = (values: number[]): Promise<PredictAnswer> => post<PredictAnswer>(values);

/** A batch of flowers, each in FEATURES order. */
export const predictBatch = (rows: number[][]): Promise<BatchAnswer> => post<BatchAnswer>(rows);
