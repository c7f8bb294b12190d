/** Public API of the Preflab core (no vscode, no DOM). */
export * from "./data/schema.js";
export * from "./data/types.js";
export { resolveInputs, readRawRows, detectFormat, sha256File } from "./data/loaders.js";
export { buildDataset, type BuildOptions, type BuildResult } from "./data/builder.js";
export { Dataset } from "./data/dataset.js";
export * from "./providers/types.js";
export * from "./providers/registry.js";
