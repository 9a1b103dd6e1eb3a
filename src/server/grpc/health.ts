/**
 * grpc.health.v1.Health (Check, Watch, List) through grpc-health-check, for
 * the whole server ("") and for iris.v1.IrisService. Both are NOT_SERVING
 * until a model is loaded and again from the moment shutdown begins.
 *
 * Watch streams never end on their own, so a graceful shutdown would wait
 * for them until its grace period ran out; close() ends them right after
 * they have been sent NOT_SERVING. A Watch of a service this server does not
 * report is answered SERVICE_UNKNOWN here (it can never change) instead of
 * by grpc-health-check, which would keep an entry for every distinct name
 * ever asked about for the life of the process.
 */
import { HealthImplementation, type ServingStatus } from "grpc-health-check";
import { INFERENCE_SERVICE_NAME } from "./inference-service.js";
import { IRIS_SERVICE_NAME } from "./iris-service.js";

/** The services whose health is reported: the server as a whole and ours. */
const HEALTH_SERVICES = ["", IRIS_SERVICE_NAME, INFERENCE_SERVICE_NAME] as const;

type Server = Parameters<HealthImplementation["addToServer"]>[0];
type Implementation = Parameters<Server["addService"]>[1];
/** What this module uses of a Watch call (a grpc-js ServerWritableStream). */
interface WatchCall {
  readonly request: { service: string };
  write(message: { status: ServingStatus | "SERVICE_UNKNOWN" }): unknown;
  end(): void;
  on(event: "cancelled", listener: () => void): unknown;
}
type WatchHandler = (call: WatchCall) => void;

export class HealthReporter {
  readonly #impl = new HealthImplementation(
    Object.fromEntries(HEALTH_SERVICES.map((s) => [s, "NOT_SERVING" satisfies ServingStatus])),
  );
  readonly #watches = new Set<WatchCall>();
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
    for (const call of this.#watches) call.end();
    this.#watches.clear();
  }

  addToServer(server: Server): void {
    this.#impl.addToServer({
      addService: (definition, implementation: Implementation) => {
        const watch = implementation.watch as unknown as WatchHandler;
        const trackedWatch: WatchHandler = (call) => {
          if ((HEALTH_SERVICES as readonly string[]).includes(call.request.service)) watch(call);
          else call.write({ status: "SERVICE_UNKNOWN" });
          if (this.#closed) {
            call.end();
            return;
          }
          this.#watches.add(call);
          call.on("cancelled", () => this.#watches.delete(call));
        };
        server.addService(definition, { ...implementation, watch: trackedWatch as unknown as Implementation[string] });
      },
    });
  }

  #set(status: ServingStatus): void {
    // Watchers hear changes only.
    if (status === this.#status) return;
    this.#status = status;
    for (const service of HEALTH_SERVICES) this.#impl.setStatus(service, status);
  }
}
