/**
 * The lazy door to src/core. Everything heavy the host uses (the data builder, evaluations,
 * reports, the providers' factory with their SDKs, zod, hyparquet, the template language client)
 * is re-exported by core-api.ts, which esbuild bundles as its own file, dist/extension-core.js.
 * `loadCore()` requires that file on first use, so activation neither compiles nor evaluates it:
 * dist/extension.js holds only the host's wiring.
 */
import * as path from "node:path";

export type CoreApi = typeof import("./core-api.js");

export const CORE_BUNDLE = "extension-core.js";

let loading: Promise<CoreApi> | undefined;

export function loadCore(): Promise<CoreApi> {
  return (loading ??= Promise.resolve().then(() => {
    const file = path.join(__dirname, CORE_BUNDLE);
    // A require with a computed path: esbuild leaves it alone, so core-api.ts stays out of the
    // activation bundle.
    try {
      // eslint-disable-next-line @typescript-eslint/no-require-imports -- a computed, synchronous load of the core bundle (see above)
      return require(file) as CoreApi;
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === "MODULE_NOT_FOUND" && String((e as Error).message).includes(CORE_BUNDLE)) {
        throw new Error(`${file} is missing: build it with \`npm run package\` (scripts/package.mjs builds src/extension/core-api.ts into it)`);
      }
      throw e;
    }
  }));
}
