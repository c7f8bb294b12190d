/**
 * The packaged .vsix (test-results/e2e/preflab.vsix, made by `npm run package` in e2e-setup.sh):
 * lean (no sources, tests or tooling, the sample once, no source maps), with the host bundles,
 * webviews, media and grammar, and node-llama-cpp with only this platform's prebuilt binaries —
 * which load from the unpacked package without building or downloading anything.
 */
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import * as path from "node:path";
import { inflateRawSync } from "node:zlib";
import { test } from "node:test";
import { cleanEnv, loadEnv } from "./harness.ts";

interface Entry {
  name: string;
  size: number;
  compressedSize: number;
  method: number;
  offset: number;
}

/** The entries of a zip file, from its central directory. */
function zipEntries(buf: Buffer): Entry[] {
  let eocd = -1;
  for (let i = buf.length - 22; i >= Math.max(0, buf.length - 65_557); i--) {
    if (buf.readUInt32LE(i) === 0x06054b50) {
      eocd = i;
      break;
    }
  }
  assert.ok(eocd >= 0, "a zip end-of-central-directory record");
  const count = buf.readUInt16LE(eocd + 10);
  let p = buf.readUInt32LE(eocd + 16);
  const out: Entry[] = [];
  for (let i = 0; i < count; i++) {
    assert.equal(buf.readUInt32LE(p), 0x02014b50);
    const method = buf.readUInt16LE(p + 10);
    const compressedSize = buf.readUInt32LE(p + 20);
    const size = buf.readUInt32LE(p + 24);
    const nameLen = buf.readUInt16LE(p + 28);
    const extraLen = buf.readUInt16LE(p + 30);
    const commentLen = buf.readUInt16LE(p + 32);
    const offset = buf.readUInt32LE(p + 42);
    out.push({ name: buf.toString("utf8", p + 46, p + 46 + nameLen), size, compressedSize, method, offset });
    p += 46 + nameLen + extraLen + commentLen;
  }
  return out;
}

function readEntry(buf: Buffer, e: Entry): Buffer {
  const nameLen = buf.readUInt16LE(e.offset + 26);
  const extraLen = buf.readUInt16LE(e.offset + 28);
  const data = buf.subarray(e.offset + 30 + nameLen + extraLen, e.offset + 30 + nameLen + extraLen + e.compressedSize);
  return e.method === 0 ? Buffer.from(data) : inflateRawSync(data);
}

const env = loadEnv();
const vsix = readFileSync(env.vsix);
const entries = zipEntries(vsix);
const names = entries.map((e) => e.name);

test("the .vsix is lean and carries what the extension needs", () => {
  const mb = statSync(env.vsix).size / 1024 / 1024;
  process.stderr.write(`[e2e] VSIX: ${path.basename(env.vsix)} ${mb.toFixed(1)} MB, ${entries.length} files\n`);
  for (const f of [
    "extension/package.json",
    "extension/dist/extension.js",
    "extension/dist/extension-core.js",
    "extension/dist/data-train-worker.js",
    "extension/dist/server.js",
    "extension/dist/webview/triple.js",
    "extension/dist/webview/triple.css",
    "extension/dist/webview/dashboard.js",
    "extension/dist/webview/dashboard.css",
    "extension/dist/webview/experiment.js",
    "extension/dist/webview/experiment.css",
    "extension/dist/templates/reward-model.ptpl",
    "extension/media/preflab.svg",
    "extension/media/icon.png",
    "extension/media/walkthrough/1-build-sample.md",
    "extension/samples/train.jsonl",
    "extension/samples/test.jsonl",
    "extension/node_modules/node-llama-cpp/package.json",
    "extension/node_modules/@node-llama-cpp/linux-x64/package.json",
  ]) {
    assert.ok(names.includes(f), `${f} is in the package`);
  }
  const forbidden = names.filter(
    (n) =>
      /^extension\/(src|test|scripts|webview-ui|\.ci|\.preflab|\.tmp|test-results)\//.test(n) ||
      /\.(map|vsix)$/.test(n) ||
      (/\.ts$/.test(n) && !/\.d\.ts$/.test(n)) ||
      /^extension\/samples\/.*\.parquet$/.test(n) ||
      n === "extension/dist/cli.cjs" ||
      /node-llama-cpp\/llama\/gitRelease\.bundle$/.test(n),
  );
  assert.deepEqual(forbidden, [], "no sources, tests, source maps, CLI bundle, duplicated sample or llama.cpp sources");
  const platforms = new Set(names.map((n) => /^extension\/node_modules\/@node-llama-cpp\/([^/]+)\//.exec(n)?.[1]).filter(Boolean));
  assert.deepEqual([...platforms], ["linux-x64"], "only this platform's llama.cpp binaries");
  const manifest = JSON.parse(readEntry(vsix, entries.find((e) => e.name === "extension/package.json")!).toString("utf8")) as Record<string, unknown>;
  assert.equal(manifest.devDependencies, undefined);
  assert.equal(manifest.scripts, undefined);
  assert.deepEqual(Object.keys(manifest.dependencies as object), ["node-llama-cpp"]);
  const vsixManifest = readEntry(vsix, entries.find((e) => e.name === "extension.vsixmanifest")!).toString("utf8");
  assert.match(vsixManifest, /TargetPlatform="linux-x64"/);
});

test("node-llama-cpp loads its prebuilt CPU binary from the unpacked package (no build, no download)", { timeout: 120_000 }, () => {
  const dir = mkdtempSync(path.join(tmpdir(), "preflab-vsix-"));
  try {
    for (const e of entries) {
      if (!e.name.startsWith("extension/node_modules/") || e.name.endsWith("/")) continue;
      const file = path.join(dir, e.name);
      mkdirSync(path.dirname(file), { recursive: true });
      writeFileSync(file, readEntry(vsix, e));
    }
    const script = `
      const m = await import(${JSON.stringify(path.join(dir, "extension/node_modules/node-llama-cpp/dist/index.js"))});
      const llama = await m.getLlama({ gpu: false, build: "never", logLevel: m.LlamaLogLevel.error });
      console.log(JSON.stringify({ gpu: llama.gpu, buildType: llama.buildType }));
      await llama.dispose();`;
    // From a file, not `node -e`: node-llama-cpp forks a test process with process.execArgv.
    writeFileSync(path.join(dir, "load.mjs"), script);
    const out = execFileSync(env.node, [path.join(dir, "load.mjs")], { encoding: "utf8", timeout: 100_000, env: cleanEnv() });
    const r = JSON.parse(out.trim().split("\n").at(-1)!) as { gpu: unknown; buildType: string };
    assert.equal(r.gpu, false);
    assert.equal(r.buildType, "prebuilt");
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

/** Licenses a runtime dependency may have (SPDX ids; an "A OR B" expression passes if one does). */
const PERMISSIVE = new Set(["MIT", "ISC", "Apache-2.0", "BSD-2-Clause", "BSD-3-Clause", "0BSD", "BlueOak-1.0.0", "Unlicense", "CC0-1.0", "Python-2.0", "Zlib"]);
function permissive(license: unknown): boolean {
  if (typeof license !== "string") return false;
  return license
    .replace(/[()]/g, "")
    .split(/\s+OR\s+/i)
    .some((alt) => alt.split(/\s+AND\s+/i).every((id) => PERMISSIVE.has(id.trim())));
}

test("the .vsix holds no keys, no test data and no environment files", () => {
  const keyLike = /\b(sk-(?:ant-|proj-)?[A-Za-z0-9_-]{24,}|hf_[A-Za-z0-9]{30,}|AKIA[0-9A-Z]{16})\b/;
  const found: string[] = [];
  for (const e of entries) {
    if (e.name.endsWith("/")) continue;
    if (/(^|\/)\.env(\.|$)|\.pem$|\.key$|id_rsa|\.npmrc$|(^|\/)test(s)?\/fixtures\/|(^|\/)__tests__\//.test(e.name) && !e.name.includes("/node_modules/")) found.push(`${e.name}: not shipped`);
    if (e.name.startsWith("extension/node_modules/") || e.size > 20 * 1024 * 1024) continue;
    const text = readEntry(vsix, e).toString("latin1");
    const m = keyLike.exec(text);
    if (m) found.push(`${e.name}: key-like "${m[0].slice(0, 12)}…"`);
  }
  assert.deepEqual(found, []);
});

test("every runtime dependency the extension ships (bundled or in node_modules) has a known permissive license", () => {
  const root = path.resolve(__dirname, "../..");
  const bad: string[] = [];
  const seen = new Set<string>();
  // The bundles (dist/) inline package.json's dependencies and what they depend on.
  const queue = Object.keys((JSON.parse(readFileSync(path.join(root, "package.json"), "utf8")) as { dependencies: Record<string, string> }).dependencies);
  while (queue.length) {
    const name = queue.shift()!;
    if (seen.has(name)) continue;
    seen.add(name);
    let pkg: { license?: unknown; dependencies?: Record<string, string> };
    try {
      pkg = JSON.parse(readFileSync(path.join(root, "node_modules", name, "package.json"), "utf8"));
    } catch {
      continue; // an optional platform package not installed here
    }
    if (!permissive(pkg.license)) bad.push(`${name}: ${JSON.stringify(pkg.license)}`);
    queue.push(...Object.keys(pkg.dependencies ?? {}));
  }
  // And each package inside the .vsix.
  for (const e of entries.filter((x) => /^extension\/node_modules\/(@[^/]+\/)?[^/]+\/package\.json$/.test(x.name))) {
    const pkg = JSON.parse(readEntry(vsix, e).toString("utf8")) as { name?: string; license?: unknown };
    if (!permissive(pkg.license)) bad.push(`${e.name}: ${JSON.stringify(pkg.license)}`);
  }
  process.stderr.write(`[e2e] licenses checked: ${seen.size} runtime packages\n`);
  assert.deepEqual(bad, [], "non-permissive or unknown licenses");
});
