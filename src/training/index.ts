/** The offline trainer: data loading, splitting, fitting, evaluation and artifacts. */
export * from "./atomic-write.js";
export * from "./build-artifact.js";
export * from "./dataset.js";
export * from "./json.js";
export * from "./metrics.js";
export * from "./newton.js";
export * from "./objective.js";
export * from "./options.js";
export * from "./output.js";
export * from "./prng.js";
export * from "./report/index.js";
export * from "./split.js";
export * from "./train.js";
export * from "./versions.js";
