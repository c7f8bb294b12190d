// Bundles the CLI (and, once it exists, the extension host entry) with esbuild.
// node-llama-cpp stays external: it carries native binaries and loads them from its own package.
import { build } from "esbuild";
import { existsSync } from "node:fs";

const external = ["vscode", "node-llama-cpp", "@node-llama-cpp/*"];
const common = { bundle: true, platform: "node", target: "node20", sourcemap: true, external, logLevel: "warning" };

const entries = [
  { entryPoints: ["src/cli/main.ts"], outfile: "dist/cli.cjs", format: "cjs" },
  // The dataset build's worker thread, found beside whichever bundle runs the build (src/core/data/build.ts).
  { entryPoints: ["src/core/data/train-worker.ts"], outfile: "dist/data-train-worker.js", format: "cjs" },
];
if (existsSync("src/extension/extension.ts")) {
  entries.push({ entryPoints: ["src/extension/extension.ts"], outfile: "dist/extension.js", format: "cjs" });
}
if (existsSync("src/extension/core-api.ts")) {
  // The extension's lazily loaded core: its own bundle, so activation compiles only dist/extension.js.
  entries.push({ entryPoints: ["src/extension/core-api.ts"], outfile: "dist/extension-core.js", format: "cjs" });
}
if (existsSync("src/server/server.ts")) {
  // The .ptpl template language server, started by the extension as its own process.
  entries.push({ entryPoints: ["src/server/server.ts"], outfile: "dist/server.js", format: "cjs" });
}
if (existsSync("webview-ui/triple.ts")) {
  // The webviews (browser IIFE bundles + their CSS): dist/webview/{triple,dashboard,experiment}.{js,css}.
  entries.push({ entryPoints: ["webview-ui/triple.ts", "webview-ui/dashboard.ts", "webview-ui/experiment.ts"], outdir: "dist/webview", format: "iife", platform: "browser", target: "es2022", external: [], minify: true });
}
await Promise.all(entries.map((e) => build({ ...common, ...e })));

// Built-in prompt templates ship as .ptpl files beside the bundles (see src/core/templates/template.ts).
import { cpSync } from "node:fs";
cpSync("src/core/templates/builtin", "dist/templates", { recursive: true });
