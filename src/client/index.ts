/**
 * The iris-serve client SDK (`import { createIrisClient } from "iris-serve/client"`).
 *
 * ```ts
 * const iris = createIrisClient("localhost:50051");
 * const { species, probabilities } = await iris.predict({
 *   sepalLength: 5.1, sepalWidth: 3.5, petalLength: 1.4, petalWidth: 0.2,
 * });
 * iris.close();
 * ```
 *
 * Every call has a deadline (10 s unless told otherwise) and can be aborted
 * with an AbortSignal. Failures reject with an IrisError whose `code` is the
 * gRPC status code (`Code.INVALID_ARGUMENT`, ...) and whose `violations`
 * name the offending fields when the server sent them.
 */
import {
  ChannelCredentials,
  credentials as grpcCredentials,
  Metadata,
  type ChannelOptions,
  type ClientUnaryCall,
  type ServiceError,
} from "@grpc/grpc-js";
import { Code, IrisError, type FieldViolation } from "../errors.js";
import {
  IrisServiceClient,
  type Flower,
  type Hyperparameters,
  type ModelInfoResponse,
} from "../gen/iris.js";
import { decodeRpcStatus, STATUS_DETAILS_KEY } from "../server/status-details.js";

export { Code, IrisError, codeName, type FieldViolation } from "../errors.js";
export type { Feature, Hyperparameters } from "../gen/iris.js";

/** The four measurements of one flower, in centimetres; all required. */
export interface FlowerMeasurements {
  sepalLength: number;
  sepalWidth: number;
  petalLength: number;
  petalWidth: number;
}

/** The model's answer for one flower. */
export interface IrisPrediction {
  /** The most probable species, e.g. "setosa". */
  species: string;
  /** Index of `species` in the model's classes. */
  classIndex: number;
  /** Probability of each class in model class order (empty when omitted). */
  probabilities: number[];
}

export interface PredictResult extends IrisPrediction {
  /** Version of the model that answered. */
  modelVersion: string;
}

export interface BatchPredictResult {
  /** Version of the model that answered every row. */
  modelVersion: string;
  /** Class labels in model order. */
  classes: string[];
  /** One prediction per input flower, in input order. */
  predictions: IrisPrediction[];
}

/** ModelInfo with every part present. */
export interface ModelInfo extends Omit<ModelInfoResponse, "hyperparameters" | "loadedAt" | "training"> {
  hyperparameters: Hyperparameters;
  /** When the server loaded the model. */
  loadedAt: Date;
  /** Training provenance as recorded in the artifact. */
  training: Record<string, unknown>;
}

/** TLS settings (PEM buffers); with no fields, the system's root CAs are trusted. */
export interface TlsOptions {
  rootCerts?: Buffer;
  /** Client certificate and key, for mutual TLS. */
  privateKey?: Buffer;
  certChain?: Buffer;
}

export interface IrisClientOptions {
  /** "insecure" (plaintext, the default), TLS settings, or ready-made grpc-js credentials. */
  credentials?: "insecure" | { tls: TlsOptions } | ChannelCredentials;
  /** Deadline of every call unless the call says otherwise; default 10 000 ms. */
  deadlineMs?: number;
  /** Largest response accepted; default 64 MiB (a 100 000-row batch answer is ~2.5 MB). */
  maxReceiveBytes?: number;
  /** Extra grpc-js channel options. */
  channelOptions?: ChannelOptions;
}

export interface CallOptions {
  /** Deadline of this call in milliseconds from now. */
  deadlineMs?: number;
  /** Aborting cancels the call; it then rejects with Code.CANCELLED. */
  signal?: AbortSignal;
  /** Extra request metadata (headers). */
  metadata?: Record<string, string>;
}

export interface BatchPredictOptions extends CallOptions {
  /** Skip the probabilities (faster, smaller answers); predictions then have `probabilities: []`. */
  omitProbabilities?: boolean;
}

export interface IrisClient {
  /** The address the client dials. */
  readonly address: string;
  predict(flower: FlowerMeasurements, options?: CallOptions): Promise<PredictResult>;
  batchPredict(flowers: readonly FlowerMeasurements[], options?: BatchPredictOptions): Promise<BatchPredictResult>;
  modelInfo(options?: CallOptions): Promise<ModelInfo>;
  /** Closes the channel; calls in flight are cancelled. */
  close(): void;
}

export const DEFAULT_DEADLINE_MS = 10_000;
export const DEFAULT_MAX_RECEIVE_BYTES = 64 * 1024 * 1024;

function toCredentials(c: IrisClientOptions["credentials"]): ChannelCredentials {
  if (c === undefined || c === "insecure") return grpcCredentials.createInsecure();
  if (c instanceof ChannelCredentials) return c;
  const { rootCerts, privateKey, certChain } = c.tls;
  return grpcCredentials.createSsl(rootCerts ?? null, privateKey ?? null, certChain ?? null);
}

/** A grpc-js error as an IrisError, with the BadRequest violations the server sent. */
export function fromServiceError(err: ServiceError): IrisError {
  let violations: FieldViolation[] = [];
  const details = err.metadata?.get(STATUS_DETAILS_KEY)[0];
  if (details instanceof Uint8Array) {
    try {
      violations = decodeRpcStatus(details).violations;
    } catch {
      // Malformed details: the code and message still stand.
    }
  }
  const code = (Number.isInteger(err.code) && err.code >= 0 && err.code <= 16 ? err.code : Code.UNKNOWN) as Code;
  // grpc-js ends connection errors with an empty "Resolution note:".
  const message = (err.details || err.message).replace(/\s*Resolution note:\s*$/, "");
  return new IrisError(code, message, { cause: err, violations });
}

function toFlower(m: FlowerMeasurements): Flower {
  // Fields are copied as given: a missing value stays missing (the server
  // rejects it), never becomes 0.
  return { sepalLength: m.sepalLength, sepalWidth: m.sepalWidth, petalLength: m.petalLength, petalWidth: m.petalWidth };
}

type UnaryMethod<Req, Res> = (
  request: Req,
  metadata: Metadata,
  options: { deadline: number },
  callback: (error: ServiceError | null, response: Res) => void,
) => ClientUnaryCall;

export function createIrisClient(address: string, options: IrisClientOptions = {}): IrisClient {
  const defaultDeadline = options.deadlineMs ?? DEFAULT_DEADLINE_MS;
  if (!(defaultDeadline > 0)) throw new RangeError(`deadlineMs must be > 0, got ${defaultDeadline}`);
  const client = new IrisServiceClient(address, toCredentials(options.credentials), {
    "grpc.max_receive_message_length": options.maxReceiveBytes ?? DEFAULT_MAX_RECEIVE_BYTES,
    ...options.channelOptions,
  });

  let closed = false;

  function unary<Req, Res>(method: UnaryMethod<Req, Res>, request: Req, call: CallOptions = {}): Promise<Res> {
    if (closed) return Promise.reject(new IrisError(Code.FAILED_PRECONDITION, `the client of ${address} is closed`));
    const { signal } = call;
    if (signal?.aborted) return Promise.reject(new IrisError(Code.CANCELLED, "call aborted before it started"));
    const metadata = new Metadata();
    for (const [key, value] of Object.entries(call.metadata ?? {})) metadata.set(key, value);
    const deadline = Date.now() + (call.deadlineMs ?? defaultDeadline);
    return new Promise<Res>((resolve, reject) => {
      const onAbort = (): void => pending.cancel();
      const pending = method.call(client, request, metadata, { deadline }, (err, response) => {
        signal?.removeEventListener("abort", onAbort);
        if (err) reject(fromServiceError(err));
        else resolve(response);
      });
      signal?.addEventListener("abort", onAbort, { once: true });
    });
  }

  return {
    address,

    async predict(flower, callOptions) {
      const res = await unary(client.predict, { flower: toFlower(flower) }, callOptions);
      const p = res.prediction;
      if (p === undefined) throw new IrisError(Code.INTERNAL, "server sent a PredictResponse without a prediction");
      return { species: p.species, classIndex: p.classIndex, probabilities: p.probabilities, modelVersion: res.modelVersion };
    },

    async batchPredict(flowers, callOptions = {}) {
      const request = { flowers: flowers.map(toFlower), omitProbabilities: callOptions.omitProbabilities ?? false };
      const res = await unary(client.batchPredict, request, callOptions);
      const k = res.classes.length;
      const withProbabilities = res.probabilities.length > 0;
      if (res.classIndices.length !== flowers.length || (withProbabilities && res.probabilities.length !== flowers.length * k)) {
        throw new IrisError(Code.INTERNAL, "server sent a BatchPredictResponse that does not match the request");
      }
      const predictions: IrisPrediction[] = new Array(flowers.length);
      for (let i = 0; i < flowers.length; i++) {
        const classIndex = res.classIndices[i]!;
        predictions[i] = {
          species: res.classes[classIndex] ?? "",
          classIndex,
          probabilities: withProbabilities ? res.probabilities.slice(i * k, (i + 1) * k) : [],
        };
      }
      return { modelVersion: res.modelVersion, classes: res.classes, predictions };
    },

    async modelInfo(callOptions) {
      const res = await unary(client.modelInfo, {}, callOptions);
      return {
        ...res,
        hyperparameters: res.hyperparameters ?? { c: 0, penalty: "", maxIter: 0, tol: 0, testFraction: 0, seed: 0, folds: 0 },
        loadedAt: res.loadedAt ?? new Date(0),
        training: (res.training ?? {}) as Record<string, unknown>,
      };
    },

    close() {
      closed = true;
      client.close();
    },
  };
}
