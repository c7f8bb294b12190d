// Packages the extension as a .vsix for one platform, offline, with @vscode/vsce.
//
//   node scripts/package.mjs [--target linux-x64] [--gpu cuda,vulkan] [--out FILE.vsix] [--no-build]
//
// The host bundles (dist/extension.js, dist/extension-core.js, dist/server.js, dist/webview/*)
// carry every JS dependency, so the only node_modules in the package are node-llama-cpp (external:
// it loads native binaries from its own package), its runtime dependencies, and the prebuilt
// llama.cpp binaries of the target platform: @node-llama-cpp/<target> (CPU). `--gpu cuda,vulkan`
// adds @node-llama-cpp/<target>-cuda(-ext) / -vulkan where they exist (large: ~180-540 MB).
//
// How: everything the package holds is copied into a staging folder (.tmp/vsix-stage-*) with a
// package.json whose only dependency is node-llama-cpp, and vsce packages that folder (its npm
// dependency detection then sees exactly that closure); .vscodeignore trims what is left (source
// maps, node-llama-cpp's llama.cpp sources, docs). The build uses no network.
import { execFileSync } from "node:child_process";
import { cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import path from "node:path";
import { parseArgs } from "node:util";

const root = path.resolve(path.dirname(new URL(import.meta.url).pathname), "..");
const { values } = parseArgs({
  options: {
    target: { type: "string", default: `${process.platform}-${process.arch}` },
    gpu: { type: "string", default: "" },
    out: { type: "string" },
    "no-build": { type: "boolean", default: false },
  },
});
const target = values.target;
const gpus = values.gpu.split(",").map((s) => s.trim()).filter(Boolean);
const pkg = JSON.parse(readFileSync(path.join(root, "package.json"), "utf8"));
const out = path.resolve(values.out ?? path.join(root, `${pkg.name}-${target}-${pkg.version}.vsix`));
mkdirSync(path.join(root, ".tmp"), { recursive: true });
const stage = mkdtempSync(path.join(root, ".tmp", "vsix-stage-"));
process.on("exit", () => rmSync(stage, { recursive: true, force: true }));
const log = (m) => process.stderr.write(`package: ${m}\n`);

// ---- 1. build

if (!values["no-build"]) {
  execFileSync(process.execPath, [path.join(root, "scripts", "build.mjs")], { cwd: root, stdio: "inherit" });
  // The host's lazily loaded core (SDKs, zod, hyparquet, the template language client) is its own
  // bundle, so activation compiles only dist/extension.js. Built here when build.mjs does not.
  const core = path.join(root, "dist", "extension-core.js");
  const started = Date.now() - 1000;
  if (!existsSync(core) || statSync(core).mtimeMs < started) {
    const { build } = await import("esbuild");
    await build({
      entryPoints: [path.join(root, "src", "extension", "core-api.ts")],
      outfile: core,
      bundle: true,
      platform: "node",
      target: "node20",
      format: "cjs",
      sourcemap: true,
      external: ["vscode", "node-llama-cpp", "@node-llama-cpp/*"],
      logLevel: "warning",
    });
  }
}
for (const f of ["dist/extension.js", "dist/extension-core.js", "dist/data-train-worker.js", "dist/webview/triple.js", "dist/webview/dashboard.js", "dist/webview/experiment.js", "dist/templates"]) {
  if (!existsSync(path.join(root, f))) throw new Error(`${f} is missing; run the build first`);
}

// ---- 2. stage

const copy = (rel) => {
  const from = path.join(root, rel);
  if (existsSync(from)) cpSync(from, path.join(stage, rel), { recursive: true, dereference: true });
};
for (const rel of ["README.md", "LICENSE", "LICENSE.md", "CHANGELOG.md", ".vscodeignore", "dist", "media", "syntaxes", "samples", "schemas"]) copy(rel);

// node-llama-cpp and what it needs at run time, resolved the way Node does (nested first).
const platformPackages = [`@node-llama-cpp/${target}`, ...gpus.flatMap((g) => (g === "cuda" ? [`@node-llama-cpp/${target}-cuda`, `@node-llama-cpp/${target}-cuda-ext`] : [`@node-llama-cpp/${target}-${g}`]))];
const copied = new Set();
function resolveDir(name, fromDir) {
  for (let dir = fromDir; ; dir = path.dirname(dir)) {
    const candidate = path.join(dir, "node_modules", name);
    if (existsSync(path.join(candidate, "package.json"))) return candidate;
    if (dir === root || dir === path.dirname(dir)) return undefined;
  }
}
function addPackage(dir) {
  if (copied.has(dir)) return;
  copied.add(dir);
  cpSync(dir, path.join(stage, path.relative(root, dir)), { recursive: true, dereference: true });
  const p = JSON.parse(readFileSync(path.join(dir, "package.json"), "utf8"));
  for (const dep of Object.keys(p.dependencies ?? {})) {
    const d = resolveDir(dep, dir);
    if (!d) throw new Error(`${dep} (needed by ${p.name}) is not installed`);
    addPackage(d);
  }
}
const nlc = resolveDir("node-llama-cpp", root);
if (!nlc) throw new Error("node-llama-cpp is not installed (npm ci)");
addPackage(nlc);
const nlcVersion = JSON.parse(readFileSync(path.join(nlc, "package.json"), "utf8")).version;
const optional = [];
for (const name of platformPackages) {
  const d = resolveDir(name, nlc);
  if (!d) {
    if (name === `@node-llama-cpp/${target}`) throw new Error(`${name} is not installed: its prebuilt binaries are needed for --target ${target}`);
    log(`${name} is not installed here; skipped`);
    continue;
  }
  addPackage(d);
  optional.push(name);
}

// The staged manifest: no scripts, no dev dependencies, node-llama-cpp as the only dependency
// (so vsce's npm dependency detection lists exactly the copied closure).
const manifest = { ...pkg };
delete manifest.devDependencies;
delete manifest.scripts;
delete manifest.bin;
manifest.dependencies = { "node-llama-cpp": nlcVersion };
writeFileSync(path.join(stage, "package.json"), JSON.stringify(manifest, null, 2) + "\n");

// ---- 3. vsce

const require = createRequire(import.meta.url);
const vsce = path.join(path.dirname(require.resolve("@vscode/vsce/package.json")), "vsce");
rmSync(out, { force: true });
execFileSync(
  process.execPath,
  [vsce, "package", "--target", target, "--out", out, "--allow-missing-repository", "--skip-license", "--no-rewrite-relative-links", "--no-update-package-json"],
  { cwd: stage, stdio: ["ignore", "inherit", "inherit"], env: { ...process.env, npm_config_loglevel: "error" } },
);
const size = statSync(out).size;
log(`${path.relative(root, out)}: ${(size / 1024 / 1024).toFixed(1)} MB (${size} bytes), target ${target}, llama.cpp binaries: ${optional.join(", ")}`);
