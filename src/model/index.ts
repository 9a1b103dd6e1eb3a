export * from "./artifact.js";
export * from "./model.js";
export * from "./load.js";
