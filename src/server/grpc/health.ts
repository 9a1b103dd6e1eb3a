/**
 * grpc.health.v1.Health (Check, Watch, List), for the whole server ("") and
 * for iris.v1.IrisService and inference.GRPCInferenceService. All are
 * NOT_SERVING until a model is loaded and again from the moment shutdown
 * begins.
 *
 * The service is the generated definition (src/gen/grpc/health/v1/) with
 * the standard behaviour implemented here, as grpc-health-check implements
 * it (Check of an unknown service: NOT_FOUND; Watch: the current status at
 * once, then every change; List: every reported service), but without
 * loading health.proto with proto-loader at start-up, which took a sixth of
 * the time from start to serving.
 *
 * Watch streams never end on their own, so a graceful shutdown would wait
 * for them until its grace period ran out; close() ends them right after
 * they have been sent NOT_SERVING. A Watch of a service this server does not
 * report is answered SERVICE_UNKNOWN (it can never change); no state is kept
 * per name asked about, only the open stream until it ends.
 */
import type { sendUnaryData, Server, ServerUnaryCall, ServerWritableStream, UntypedServiceImplementation } from "@grpc/grpc-js";
import { Code } from "../../errors.js";
import {
  HealthCheckResponse_ServingStatus as Status,
  HealthService,
  type HealthCheckRequest,
  type HealthCheckResponse,
  type HealthListResponse,
} from "../../gen/grpc/health/v1/health.js";
import { INFERENCE_SERVICE_NAME } from "./inference-service.js";
import { IRIS_SERVICE_NAME } from "./iris-service.js";

/** The services whose health is reported: the server as a whole and ours. */
const HEALTH_SERVICES: readonly string[] = ["", IRIS_SERVICE_NAME, INFERENCE_SERVICE_NAME];

type ServingStatus = "SERVING" | "NOT_SERVING";

export class HealthReporter {
  /** The open Watch streams, and whether each is of a reported service (the others never hear a change). */
  readonly #watches = new Map<ServerWritableStream<HealthCheckRequest, HealthCheckResponse>, boolean>();
  #closed = false;
  #status: ServingStatus = "NOT_SERVING";

  get status(): ServingStatus {
    return this.#status;
  }

  /** SERVING or NOT_SERVING for every reported service; ignored once closed. */
  setServing(serving: boolean): void {
    if (this.#closed) return;
    this.#set(serving ? "SERVING" : "NOT_SERVING");
  }

  /** NOT_SERVING for good, and every Watch stream is ended. */
  close(): void {
    if (this.#closed) return;
    this.#set("NOT_SERVING");
    this.#closed = true;
    for (const call of this.#watches.keys()) call.end();
    this.#watches.clear();
  }

  addToServer(server: Pick<Server, "addService">): void {
    const implementation: UntypedServiceImplementation = {
      check: (call: ServerUnaryCall<HealthCheckRequest, HealthCheckResponse>, callback: sendUnaryData<HealthCheckResponse>) => {
        const { service } = call.request;
        if (!HEALTH_SERVICES.includes(service)) {
          callback({ code: Code.NOT_FOUND, details: `Health status unknown for service ${service}` });
          return;
        }
        callback(null, { status: this.#current() });
      },
      watch: (call: ServerWritableStream<HealthCheckRequest, HealthCheckResponse>) => {
        const known = HEALTH_SERVICES.includes(call.request.service);
        call.write({ status: known ? this.#current() : Status.SERVICE_UNKNOWN });
        if (this.#closed) {
          call.end();
          return;
        }
        this.#watches.set(call, known);
        call.on("cancelled", () => this.#watches.delete(call));
      },
      list: (_call: ServerUnaryCall<unknown, HealthListResponse>, callback: sendUnaryData<HealthListResponse>) => {
        const status = this.#current();
        callback(null, { statuses: Object.fromEntries(HEALTH_SERVICES.map((s) => [s, { status }])) });
      },
    };
    server.addService(HealthService, implementation);
  }

  #current(): Status {
    return this.#status === "SERVING" ? Status.SERVING : Status.NOT_SERVING;
  }

  #set(status: ServingStatus): void {
    // Watchers hear changes only.
    if (status === this.#status) return;
    this.#status = status;
    const message = { status: this.#current() };
    for (const [call, known] of this.#watches) if (known) call.write(message);
  }
}
