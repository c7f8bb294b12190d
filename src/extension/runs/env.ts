/** This window's run environment (settings, workspace root, cache folder, keys) for plan.ts. */
import type { Services } from "../services.js";
import type { RunEnv } from "./plan.js";

export function runEnv(s: Services): RunEnv {
  return {
    cfg: s.config(),
    root: s.baseDir(),
    cacheDir: s.folders().cache,
    getKey: async (p) => (await s.keys.get(p))?.key,
  };
}
