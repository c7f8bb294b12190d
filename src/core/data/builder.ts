/**
 * The dataset builder's public surface, split by job: ids (ids.ts), the history retrieval index
 * (history-index.ts) and the build itself (build.ts).
 */
export { buildDataset, type BuildOptions, type BuildResult } from "./build.js";
export { HistoryIndex, type PairMeta, type RetrievalQuery } from "./history-index.js";
export { pairId, parsePairId, tripleId, userId } from "./ids.js";
