/**
 * Full-scale dataset benchmark (issues 2 and 14). Generates once, under .bench/, a MultiFacet-sized
 * synthetic corpus with the real text sizes (196,998 train rows in 3 snappy Parquet shards, about
 * 4.4 KB a row as JSONL: long system prompts and responses; 921 test rows), then measures, each in
 * a fresh process, one after the other on the same machine:
 *   read    reading the Parquet shards row group by row group (the floor)
 *   build   `preflab build` (wall, CPU, peak RSS, output size)
 *   reader  what the extension does on the built dataset: the users tree's data, one user's
 *           history, the first triple, a search over all test triples (warm page cache)
 *   export  SFT and DPO training files for the full train split (parts a and b)
 * and prints them side by side with the budgets: build <= 1.5x read, peak RSS <= 1 GB, output
 * <= 1.2x the input rows' text; users data <= 1 s, history <= 200 ms, triple <= 300 ms,
 * search <= 300 ms. The exports write several GB (every example carries its history's texts) and
 * take many minutes on a 2-core machine, so they run only with `--export`; `--only-export` runs
 * them on an already built dataset. `--repeat N` (default 3) alternates the read and the build N
 * times and compares the fastest of each: on a machine shared with other jobs one run can be
 * slowed by half. The read and the build run bundled (bundleChild), as `preflab build` runs.
 */
import { execFileSync } from "node:child_process";
import { cpSync } from "node:fs";
import { cpus, loadavg } from "node:os";
import * as path from "node:path";
import { ensureCorpus, FULL_TEST_TRIPLES, FULL_TRAIN_TRIPLES } from "./lib/bench-corpus.js";

const ROOT = path.resolve(__dirname, "..");
const DIR = path.join(ROOT, ".bench", "corpus-real");
const OUT = path.join(DIR, "out");

interface Child {
  wallMs: number;
  cpuMs: number;
  maxRssMb: number;
  detail: string;
  [k: string]: number | string;
}

const BIN = path.join(ROOT, ".bench", "bin");

/**
 * The measured children run bundled as `preflab build` runs (dist/cli.cjs and its worker,
 * scripts/build.mjs): the child and the build's worker thread bundled with the same esbuild
 * options into .bench/bin, so neither the read nor the build pays for transpiling on the fly.
 */
async function bundleChild(): Promise<void> {
  const { build } = await import("esbuild");
  const common: import("esbuild").BuildOptions = { bundle: true, platform: "node", target: "node20", format: "cjs", external: ["vscode", "node-llama-cpp", "@node-llama-cpp/*"], logLevel: "warning" };
  await build({ ...common, entryPoints: [path.join(__dirname, "bench-build-child.ts")], outfile: path.join(BIN, "bench-build-child.cjs") });
  await build({ ...common, entryPoints: [path.join(ROOT, "src", "core", "data", "train-worker.ts")], outfile: path.join(BIN, "data-train-worker.js") });
  // The built-in templates (the exports render with them) beside the bundle, as dist/templates.
  cpSync(path.join(ROOT, "src", "core", "templates", "builtin"), path.join(BIN, "templates"), { recursive: true });
}

function child(mode: string): Child {
  const out = execFileSync(process.execPath, [path.join(BIN, "bench-build-child.cjs"), mode, DIR, OUT], {
    cwd: ROOT,
    encoding: "utf8",
    maxBuffer: 1 << 26,
  });
  return JSON.parse(out.trim().split("\n").pop()!) as Child;
}

async function main() {
  const corpus = await ensureCorpus(DIR, { trainTriples: FULL_TRAIN_TRIPLES, testTriples: FULL_TEST_TRIPLES, shards: 3 }, console.log);
  await bundleChild();
  const onlyExport = process.argv.includes("--only-export");
  const exports = onlyExport || process.argv.includes("--export") ? ["export-sft", "export-dpo"] : [];
  if (onlyExport) {
    for (const mode of exports) {
      const e = child(mode);
      console.log(`${mode}: ${(e.wallMs / 1000).toFixed(1)} s wall, ${(e.cpuMs / 1000).toFixed(1)} s CPU, peak RSS ${e.maxRssMb.toFixed(0)} MB (${e.detail})`);
    }
    return;
  }
  // On a shared machine the load changes from one minute to the next: the read and the build are
  // alternated `--repeat N` times (default 3) and the fastest of each compared (every run is printed).
  const at = process.argv.indexOf("--repeat");
  const repeat = at > 0 ? Math.max(1, Number(process.argv[at + 1]) || 1) : 3;
  const reads: Child[] = [];
  const builds: Child[] = [];
  for (let i = 0; i < repeat; i++) {
    const loadBefore = loadavg()[0]!;
    reads.push(child("read"));
    builds.push(child("build"));
    if (repeat > 1) console.log(`run ${i + 1}: read ${(reads[i]!.wallMs / 1000).toFixed(2)} s, build ${(builds[i]!.wallMs / 1000).toFixed(2)} s wall (${(builds[i]!.wallMs / reads[i]!.wallMs).toFixed(2)}x), load average ${loadBefore.toFixed(1)} -> ${loadavg()[0]!.toFixed(1)}`);
  }
  const fastest = (runs: Child[]) => runs.reduce((a, b) => (b.wallMs < a.wallMs ? b : a));
  const read = fastest(reads);
  const build = fastest(builds);
  const reader = child("reader");
  const exported = exports.map(child);
  const s = (ms: number) => `${(ms / 1000).toFixed(2)} s`;
  const mb = (n: number) => `${n.toFixed(0)} MB`;
  const verdict = (ok: boolean) => (ok ? "ok" : "OVER BUDGET");
  const rows: [string, string, string, string][] = [];
  rows.push(["parquet read (floor)", `${s(read.wallMs)} wall, ${s(read.cpuMs)} CPU`, mb(read.maxRssMb), read.detail]);
  rows.push(["build", `${s(build.wallMs)} wall, ${s(build.cpuMs)} CPU`, mb(build.maxRssMb), build.detail]);
  for (const e of exported) rows.push([`export ${e.detail.includes("part a") ? "sft" : "dpo"}`, `${s(e.wallMs)} wall, ${s(e.cpuMs)} CPU`, mb(e.maxRssMb), e.detail]);
  rows.push(["extension reader", `${s(reader.wallMs)} wall`, mb(reader.maxRssMb), reader.detail]);
  for (const [what, time, rss, detail] of rows) console.log(`${what.padEnd(22)} ${time.padEnd(28)} peak RSS ${rss.padEnd(8)} ${detail}`);
  const wallRatio = build.wallMs / read.wallMs;
  const cpuRatio = build.cpuMs / read.cpuMs;
  const outRatio = (build.outBytes as number) / corpus.jsonlBytes;
  console.log(`input: ${read.rows as number} rows, ${mb(corpus.jsonlBytes / 1e6)} as JSONL (${(corpus.jsonlBytes / (read.rows as number) / 1000).toFixed(2)} KB a row), ${mb(corpus.parquetBytes / 1e6)} of snappy Parquet (${(corpus.jsonlBytes / corpus.parquetBytes).toFixed(2)}x smaller)`);
  console.log("");
  console.log(`build / read time      : ${wallRatio.toFixed(2)}x wall, ${cpuRatio.toFixed(2)}x CPU   (budget <= 1.5x) ${verdict(wallRatio <= 1.5)}`);
  console.log(`build peak RSS         : ${mb(build.maxRssMb)}   (budget <= 1 GB) ${verdict(build.maxRssMb <= 1024)}`);
  console.log(`output / input text    : ${outRatio.toFixed(2)}x (${mb((build.outBytes as number) / 1e6)} of ${mb(corpus.jsonlBytes / 1e6)})   (budget <= 1.2x) ${verdict(outRatio <= 1.2)}`);
  const ms = (k: string) => Math.round(reader[k] as number);
  console.log(`users tree data        : ${ms("usersMs")} ms   (budget <= 1000 ms) ${verdict(ms("usersMs") <= 1000)}`);
  console.log(`one user's history     : ${ms("historyMs")} ms   (budget <= 200 ms) ${verdict(ms("historyMs") <= 200)}`);
  console.log(`first triple           : ${ms("tripleMs")} ms   (budget <= 300 ms) ${verdict(ms("tripleMs") <= 300)}; next triple ${ms("nextTripleMs")} ms`);
  console.log(`search all test triples: ${ms("searchMs")} ms   (budget <= 300 ms) ${verdict(ms("searchMs") <= 300)}`);
  console.log(`(load average at the end: ${loadavg()[0]!.toFixed(1)} on ${cpus().length} cores${repeat > 1 ? `; the fastest of ${repeat} alternating runs each` : ""})`);
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
