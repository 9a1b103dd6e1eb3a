/**
 * "Copy as": the current measurements as a call a person can paste, to the
 * server the page came from: curl on `POST /predict`, curl on the Open
 * Inference Protocol's infer route, grpcurl on iris.v1 Predict (reflection:
 * no .proto needed), and the TypeScript SDK. Pure: strings from values.
 */
import { FEATURES } from "../model/features.js";

export type SnippetKind = "curl-predict" | "curl-v2" | "grpcurl" | "sdk";

export interface Endpoint {
  /** The HTTP origin, `http://host:port` (the page's own). */
  httpOrigin: string;
  /** `host:port` of the gRPC port. */
  grpcAddress: string;
  /** Whether the server speaks TLS (both ports do, or neither). */
  tls: boolean;
  /** The model's name in the Open Inference Protocol. */
  modelName: string;
}

/** `sepal_length` → `sepalLength`, iris.v1.Flower's JSON names. */
const camel = (name: string): string => name.replace(/_([a-z])/g, (_, c: string) => c.toUpperCase());

/** A word for a POSIX shell: as it is when it is safe, else single-quoted. */
function shellWord(text: string): string {
  return /^[A-Za-z0-9_./:@%+=,-]+$/.test(text) ? text : `'${text.replace(/'/g, `'\\''`)}'`;
}

const list = (values: readonly number[]): string => values.map((v) => String(v)).join(", ");

/** The host part of an origin or address as grpc dials it (IPv6 keeps its brackets). */
export function grpcAddressOf(hostname: string, port: number): string {
  const host = hostname.includes(":") && !hostname.startsWith("[") ? `[${hostname}]` : hostname;
  return `${host}:${port}`;
}

/** The snippet of `kind` for one flower, `values` in FEATURES order. */
export function snippet(kind: SnippetKind, endpoint: Endpoint, values: readonly number[]): string {
  switch (kind) {
    case "curl-predict":
      return `curl -X POST ${shellWord(`${endpoint.httpOrigin}/predict`)} -H "Content-Type: application/json" -d '{"features": [${list(values)}]}'`;
    case "curl-v2": {
      const url = `${endpoint.httpOrigin}/v2/models/${encodeURIComponent(endpoint.modelName)}/infer`;
      const body = `{"inputs": [{"name": "input-0", "shape": [1, ${values.length}], "datatype": "FP64", "data": [${list(values)}]}]}`;
      return `curl -X POST ${shellWord(url)} -H "Content-Type: application/json" -d '${body}'`;
    }
    case "grpcurl": {
      const flower = FEATURES.map((name, j) => `"${camel(name)}": ${String(values[j])}`).join(", ");
      return `grpcurl ${endpoint.tls ? "" : "-plaintext "}-d '{"flower": {${flower}}}' ${shellWord(endpoint.grpcAddress)} iris.v1.IrisService/Predict`;
    }
    case "sdk": {
      const flower = FEATURES.map((name, j) => `${camel(name)}: ${String(values[j])}`).join(", ");
      const options = endpoint.tls ? `, { credentials: { tls: { rootCerts: readFileSync("ca.pem") } } }` : "";
      return [
        `import { createIrisClient } from "@iris-serve/client";`,
        ...(endpoint.tls ? [`import { readFileSync } from "node:fs";`] : []),
        "",
        `const iris = createIrisClient(${JSON.stringify(endpoint.grpcAddress)}${options});`,
        `const p = await iris.predict({ ${flower} });`,
        "console.log(p.species, p.probabilities, p.modelVersion);",
        "iris.close();",
      ].join("\n");
    }
  }
}
