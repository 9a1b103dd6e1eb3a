/**
 * The access log (`iris serve --access-log`): one JSON line per call on
 * either port, at info level, once the call has ended:
 *
 *   {"level":"info",...,"msg":"access","requestId":"...","api":"grpc",
 *    "method":"/iris.v1.IrisService/Predict","status":0,"code":"OK",
 *    "ms":0.412,"rows":1,"modelVersion":"cfa3848492aac8eb","peer":"..."}
 *   {"level":"info",...,"msg":"access","requestId":"...","api":"http",
 *    "method":"POST","route":"/predict","status":200,"ms":1.9,...}
 *
 * It says who asked what and how it ended, never what was sent: no
 * measurements, and no status message (an INVALID_ARGUMENT message quotes
 * the offending value). Measurements appear only in debug-level lines.
 */
import { codeName, type Code } from "../errors.js";
import type { Logger } from "../logger.js";
import type { CallStage } from "./calls.js";
import { UNMATCHED_ROUTE } from "./metrics/server-metrics.js";

export function accessLog(logger: Logger): CallStage {
  return {
    recordsRequestIds: true,
    end(call, { status, ms }) {
      const grpc = call.api === "grpc";
      logger.info(
        {
          requestId: call.requestId,
          api: call.api,
          ...(grpc
            ? { method: `/${call.service}/${call.method}`, status, code: codeName(status as Code) }
            : { method: call.service, route: call.method === "" ? UNMATCHED_ROUTE : call.method, status }),
          ms: Number(ms.toFixed(3)),
          ...(call.rows !== undefined ? { rows: call.rows } : {}),
          ...(call.modelVersion !== undefined ? { modelVersion: call.modelVersion } : {}),
          peer: call.peer,
          ...(call.clientSubject !== undefined ? { client: call.clientSubject } : {}),
        },
        "access",
      );
    },
  };
}
