/**
 * Loads extension modules in plain Node: `vscode` resolves to the stand-in
 * (test/fixtures/finetune/vscode-stub.ts) and the lazily loaded core bundle
 * (dist/extension-core.js) to its exports from source (test/fixtures/extension-core.ts).
 * Call before the first dynamic import of an extension module; the returned function restores
 * Node's resolver (call it in `after`).
 */
import Module from "node:module";
import * as path from "node:path";

export function useExtensionStubs(): () => void {
  const resolver = Module as unknown as { _resolveFilename: (req: string, ...rest: unknown[]) => string };
  const original = resolver._resolveFilename;
  const vscodeStub = require.resolve("../fixtures/finetune/vscode-stub.js");
  const coreBundle = require.resolve("../fixtures/extension-core.js");
  resolver._resolveFilename = (req, ...rest) => {
    if (req === "vscode") return vscodeStub;
    if (req.endsWith(`${path.sep}extension-core.js`)) return coreBundle;
    return original(req, ...rest);
  };
  return () => {
    resolver._resolveFilename = original;
  };
}
