/**
 * The iris-serve client SDK, published on its own as `@iris-serve/client`
 * (ES module and CommonJS builds, packages/client) and shipped inside the
 * `iris-serve` package as `iris-serve/client`.
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
 * with an AbortSignal. To balance calls over several servers behind one name
 * (a Kubernetes headless Service), dial it through DNS with round_robin:
 * `createIrisClient("dns:///iris-serve-headless.default.svc.cluster.local:50051", { loadBalancing: "round_robin" })`. Failures reject with an IrisError whose `code` is the
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
import { decodeRpcStatus, STATUS_DETAILS_KEY } from "../rpc/status-details.js";
import { serverAddress } from "./address.js";

export { Code, IrisError, codeName, type FieldViolation } from "../errors.js";
export { serverAddress } from "./address.js";
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
  /**
   * The features whose measurement lies outside the range the model was
   * trained on, in model order; empty when all are within it. The
   * prediction stands, but the model is extrapolating there.
   */
  outOfRangeFeatures: string[];
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

/**
 * How a channel spreads calls over the addresses its target resolves to:
 * `pick_first` (grpc's default) sends every call over one connection;
 * `round_robin` connects to every address and rotates calls over the ready
 * ones — with a `dns:///` target naming a Kubernetes headless Service, that
 * balances calls over the pods.
 */
export type LoadBalancingPolicy = "pick_first" | "round_robin";
export const LOAD_BALANCING_POLICIES: readonly LoadBalancingPolicy[] = ["pick_first", "round_robin"];

/**
 * Channel credentials made by @grpc/grpc-js (`credentials.createInsecure()`,
 * `credentials.createSsl(...)`, ...), recognised by their shape rather than
 * their class: grpc-js 1.x credentials type-check whichever copy or version
 * of grpc-js made them.
 */
export interface GrpcChannelCredentials {
  /** Whether the channel is secure (TLS). */
  _isSecure(): boolean;
  compose(callCredentials: never): unknown;
}

export interface IrisClientOptions {
  /**
   * "insecure" (plaintext, the default), TLS settings, or ready-made grpc-js
   * credentials. Credentials of the @grpc/grpc-js the SDK loads (the
   * application's own, the peer dependency) are used as they are; plaintext
   * credentials of another copy of grpc-js are accepted too; TLS credentials
   * of another copy cannot be (give `{ tls }` instead).
   */
  credentials?: "insecure" | { tls: TlsOptions } | GrpcChannelCredentials;
  /**
   * Load-balancing policy (grpc's service config `loadBalancingConfig`).
   * When set, it wins over a service config published in DNS. Default:
   * grpc's, `pick_first`.
   */
  loadBalancing?: LoadBalancingPolicy;
  /**
   * Deadline of every call unless the call says otherwise, in milliseconds
   * (1 to MAX_DEADLINE_MS, or Infinity for none); default 10 000.
   */
  deadlineMs?: number;
  /** Largest response accepted; default DEFAULT_MAX_RESPONSE_BYTES, 64 MiB (a 100 000-row batch answer is ~2.5 MB). */
  maxReceiveBytes?: number;
  /** Extra grpc-js channel options (`grpc.service_config` only without `loadBalancing`). */
  channelOptions?: ChannelOptions;
  /**
   * Bearer token sent with every call (`authorization: Bearer <token>`), for
   * a server started with `--token-file`. Prefer TLS with it: over
   * plaintext anyone on the path can read it.
   */
  token?: string;
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
  /** Closes the channel; calls in flight are cancelled (they reject with Code.CANCELLED). */
  close(): void;
}

export const DEFAULT_DEADLINE_MS = 10_000;
/** The longest finite deadline, 2^31 - 1 ms (about 24.8 days): the most a Node timer can wait. */
export const MAX_DEADLINE_MS = 2_147_483_647;
/** The largest response a client accepts unless `maxReceiveBytes` says otherwise: 64 MiB. */
export const DEFAULT_MAX_RESPONSE_BYTES = 64 * 1024 * 1024;

function invalidArgument(message: string, cause?: unknown): IrisError {
  return new IrisError(Code.INVALID_ARGUMENT, message, cause === undefined ? {} : { cause });
}

/** Checks a deadline in milliseconds from now (grpc-js fails deep inside, unhandled, on NaN or huge values). */
function checkDeadline(ms: unknown, name: string): number {
  if (ms === Infinity || (typeof ms === "number" && ms >= 1 && ms <= MAX_DEADLINE_MS)) return ms;
  throw invalidArgument(`${name} must be a number of milliseconds from 1 to ${MAX_DEADLINE_MS}, or Infinity; got ${String(ms)}`);
}

/** The channel options: message limit, load-balancing service config, then the caller's extras. */
function channelOptionsOf(options: IrisClientOptions): ChannelOptions {
  const { loadBalancing, channelOptions = {} } = options;
  const result: ChannelOptions = {
    "grpc.max_receive_message_length": options.maxReceiveBytes ?? DEFAULT_MAX_RESPONSE_BYTES,
  };
  if (loadBalancing !== undefined) {
    if (!LOAD_BALANCING_POLICIES.includes(loadBalancing)) {
      throw invalidArgument(`loadBalancing must be one of ${LOAD_BALANCING_POLICIES.join(", ")}; got ${String(loadBalancing)}`);
    }
    if (channelOptions["grpc.service_config"] !== undefined) {
      throw invalidArgument('give loadBalancing or channelOptions["grpc.service_config"], not both');
    }
    result["grpc.service_config"] = JSON.stringify({ loadBalancingConfig: [{ [loadBalancing]: {} }] });
    // The caller's explicit choice is not replaced by a service config from DNS TXT records.
    result["grpc.service_config_disable_resolution"] = 1;
  }
  return { ...result, ...channelOptions };
}

function isGrpcChannelCredentials(c: unknown): c is GrpcChannelCredentials {
  if (typeof c !== "object" || c === null) return false;
  const shape = c as Record<keyof GrpcChannelCredentials, unknown>;
  return typeof shape._isSecure === "function" && typeof shape.compose === "function";
}

function toCredentials(c: unknown): ChannelCredentials {
  if (c === undefined || c === "insecure") return grpcCredentials.createInsecure();
  if (isGrpcChannelCredentials(c)) {
    // grpc-js only takes its own credentials objects (its channel checks the class).
    if (c instanceof ChannelCredentials) return c;
    // Another copy's plaintext credentials carry nothing but "insecure" (grpc-js
    // refuses to compose call credentials with them): the same as ours.
    if (!c._isSecure()) return grpcCredentials.createInsecure();
    throw invalidArgument(
      "credentials: these TLS credentials were made by another copy of @grpc/grpc-js than the one the SDK uses; " +
        "give { tls: { rootCerts, privateKey, certChain } } instead, or install a single @grpc/grpc-js",
    );
  }
  const tls = typeof c === "object" && c !== null ? (c as { tls?: unknown }).tls : undefined;
  if (typeof tls !== "object" || tls === null) {
    throw invalidArgument(`credentials must be "insecure", { tls: {...} } or @grpc/grpc-js channel credentials, got ${describeValue(c)}`);
  }
  const { rootCerts, privateKey, certChain } = tls as TlsOptions;
  return grpcCredentials.createSsl(rootCerts ?? null, privateKey ?? null, certChain ?? null);
}

function describeValue(value: unknown): string {
  if (typeof value === "string") return JSON.stringify(value);
  if (typeof value !== "object" || value === null) return String(value);
  return `an object with keys ${JSON.stringify(Object.keys(value))}`;
}

/**
 * A gRPC status message as grpc-js reports it, without the empty
 * "Resolution note:" grpc-js appends to connection errors.
 */
export function statusMessage(err: Pick<ServiceError, "details" | "message">): string {
  return (err.details || err.message).replace(/\s*Resolution note:\s*$/, "");
}

/** A grpc-js error as an IrisError, with the BadRequest violations and the RetryInfo delay the server sent. */
export function fromServiceError(err: ServiceError): IrisError {
  let violations: FieldViolation[] = [];
  let retryAfterMs: number | undefined;
  const details = err.metadata?.get(STATUS_DETAILS_KEY)[0];
  if (details instanceof Uint8Array) {
    try {
      ({ violations, retryAfterMs } = decodeRpcStatus(details));
    } catch {
      // Malformed details: the code and message still stand.
    }
  }
  const code = (Number.isInteger(err.code) && err.code >= 0 && err.code <= 16 ? err.code : Code.UNKNOWN) as Code;
  return new IrisError(code, statusMessage(err), { cause: err, violations, retryAfterMs });
}

function toFlower(m: FlowerMeasurements, path: string): Flower {
  if (typeof m !== "object" || m === null) throw invalidArgument(`${path} must be an object of four measurements, got ${String(m)}`);
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

/** The `authorization` value of a bearer token; a token that cannot be one is refused. */
function bearer(token: unknown): string {
  if (typeof token !== "string" || !/^[\x21-\x7e]+$/.test(token)) {
    throw invalidArgument(`token must be a non-empty string of printable ASCII without spaces, got ${describeValue(token)}`);
  }
  return `Bearer ${token}`;
}

export function createIrisClient(address: string, options: IrisClientOptions = {}): IrisClient {
  const defaultDeadline = checkDeadline(options.deadlineMs ?? DEFAULT_DEADLINE_MS, "deadlineMs");
  const target = serverAddress(address);
  const client = new IrisServiceClient(target, toCredentials(options.credentials), channelOptionsOf(options));
  const authorization = options.token === undefined ? undefined : bearer(options.token);

  let closed = false;
  // Calls in flight, cancelled by close().
  const pending = new Set<ClientUnaryCall>();

  function unary<Req, Res>(method: UnaryMethod<Req, Res>, request: () => Req, call: CallOptions = {}): Promise<Res> {
    if (closed) return Promise.reject(new IrisError(Code.FAILED_PRECONDITION, `the client of ${address} is closed`));
    const { signal } = call;
    if (signal?.aborted) return Promise.reject(new IrisError(Code.CANCELLED, "call aborted before it started"));
    let message: Req;
    let deadline: number;
    const metadata = new Metadata();
    if (authorization !== undefined) metadata.set("authorization", authorization);
    try {
      message = request();
      deadline = Date.now() + (call.deadlineMs === undefined ? defaultDeadline : checkDeadline(call.deadlineMs, "deadlineMs"));
      for (const [key, value] of Object.entries(call.metadata ?? {})) {
        try {
          metadata.set(key, value);
        } catch (err) {
          throw invalidArgument(`metadata ${JSON.stringify(key)}: ${(err as Error).message}`, err);
        }
      }
    } catch (err) {
      return Promise.reject(err);
    }
    return new Promise<Res>((resolve, reject) => {
      const onAbort = (): void => inFlight.cancel();
      const inFlight = method.call(client, message, metadata, { deadline }, (err, response) => {
        pending.delete(inFlight);
        signal?.removeEventListener("abort", onAbort);
        if (err) reject(fromServiceError(err));
        else resolve(response);
      });
      pending.add(inFlight);
      signal?.addEventListener("abort", onAbort, { once: true });
    });
  }

  return {
    address: target,

    async predict(flower, callOptions) {
      const res = await unary(client.predict, () => ({ flower: toFlower(flower, "flower") }), callOptions);
      const p = res.prediction;
      if (p === undefined) throw new IrisError(Code.INTERNAL, "server sent a PredictResponse without a prediction");
      return {
        species: p.species,
        classIndex: p.classIndex,
        probabilities: p.probabilities,
        outOfRangeFeatures: p.outOfRangeFeatures,
        modelVersion: res.modelVersion,
      };
    },

    async batchPredict(flowers, callOptions = {}) {
      const request = () => {
        if (!Array.isArray(flowers)) throw invalidArgument(`flowers must be an array, got ${typeof flowers}`);
        return {
          flowers: flowers.map((f, i) => toFlower(f, `flowers[${i}]`)),
          omitProbabilities: callOptions.omitProbabilities ?? false,
        };
      };
      const res = await unary(client.batchPredict, request, callOptions);
      const k = res.classes.length;
      const withProbabilities = res.probabilities.length > 0;
      // Masks come for every row, or (when no row is out of range) for none.
      const masks = res.outOfRangeMasks;
      if (
        res.classIndices.length !== flowers.length ||
        (withProbabilities && res.probabilities.length !== flowers.length * k) ||
        (masks.length !== 0 && masks.length !== flowers.length)
      ) {
        throw new IrisError(Code.INTERNAL, "server sent a BatchPredictResponse that does not match the request");
      }
      const names = res.outOfRangeFeatureNames;
      const featuresOf = (mask: number): string[] => {
        const features: string[] = [];
        for (let j = 0; mask !== 0 && j < 32; j++, mask >>>= 1) if (mask & 1) features.push(names[j] ?? `feature ${j}`);
        return features;
      };
      const predictions: IrisPrediction[] = new Array(flowers.length);
      for (let i = 0; i < flowers.length; i++) {
        const classIndex = res.classIndices[i]!;
        predictions[i] = {
          species: res.classes[classIndex] ?? "",
          classIndex,
          probabilities: withProbabilities ? res.probabilities.slice(i * k, (i + 1) * k) : [],
          outOfRangeFeatures: masks.length === 0 ? [] : featuresOf(masks[i]!),
        };
      }
      return { modelVersion: res.modelVersion, classes: res.classes, predictions };
    },

    async modelInfo(callOptions) {
      const res = await unary(client.modelInfo, () => ({}), callOptions);
      return {
        ...res,
        hyperparameters: res.hyperparameters ?? { c: 0, penalty: "", maxIter: 0, tol: 0, testFraction: 0, seed: 0, folds: 0 },
        loadedAt: res.loadedAt ?? new Date(0),
        training: (res.training ?? {}) as Record<string, unknown>,
      };
    },

    close() {
      closed = true;
      // grpc-js lets calls in flight run on after Channel.close(); the promise says they are cancelled.
      for (const call of pending) call.cancel();
      pending.clear();
      client.close();
    },
  };
}
