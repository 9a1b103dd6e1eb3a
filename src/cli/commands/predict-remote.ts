/**
 * The remote back end of `iris predict --remote HOST:PORT`: the same rows and
 * the same printed output as the local one, answered by a running server
 * through the client SDK (one BatchPredict call).
 */
import { createIrisClient } from "../../client/index.js";
import { codeName, IrisError } from "../../errors.js";
import { clientTransport, type ClientTlsValues } from "../client-tls.js";
import type { PredictOutput } from "./predict.js";

/** Deadline of a remote call unless --timeout-ms says otherwise. */
export const DEFAULT_REMOTE_TIMEOUT_MS = 10_000;

/** An error of a call to `address`, with the address and status name in front. */
export function remoteError(address: string, err: unknown): IrisError {
  const e = IrisError.from(err);
  return new IrisError(e.code, `${address}: ${codeName(e.code)}: ${e.message}`, {
    cause: e.cause ?? err,
    violations: [...e.violations],
  });
}

/**
 * Predicts `rows` (each [sepal_length, sepal_width, petal_length, petal_width])
 * on the server at `address`, over TLS when `tls` (the command's TLS flags)
 * asks for it.
 */
export async function predictRemote(
  address: string,
  rows: readonly number[][],
  deadlineMs = DEFAULT_REMOTE_TIMEOUT_MS,
  tls: ClientTlsValues = {},
): Promise<PredictOutput> {
  const { credentials, channelOptions } = await clientTransport(tls);
  const client = createIrisClient(address, { deadlineMs, credentials, channelOptions });
  try {
    const flowers = rows.map(([sepalLength, sepalWidth, petalLength, petalWidth]) => ({
      sepalLength: sepalLength!,
      sepalWidth: sepalWidth!,
      petalLength: petalLength!,
      petalWidth: petalWidth!,
    }));
    const result = await client.batchPredict(flowers);
    return {
      prediction: result.predictions.map((p) => p.classIndex),
      species: result.predictions.map((p) => p.species),
      probabilities: result.predictions.map((p) => p.probabilities),
      model: result.modelVersion,
    };
  } catch (err) {
    throw remoteError(address, err);
  } finally {
    client.close();
  }
}
