/**
 * Full-scale build benchmark (issue 2): generates a MultiFacet-sized synthetic corpus in the real
 * schema as Parquet shards (196,998 train rows = 65,666 triples, responses 1-3k characters;
 * 921 test rows), then measures, each in a fresh process: reading the Parquet files row group by
 * row group (the floor), and `build`. Prints wall time and peak RSS of both and their ratio.
 * Budget: build <= 20 s and <= 1.5 GB peak RSS on the 2-core machine.
 */
import { execFileSync } from "node:child_process";
import { existsSync, mkdirSync, rmSync, writeFileSync, readFileSync } from "node:fs";
import * as path from "node:path";
import { openMultifacetParquet } from "./lib/multifacet-parquet.js";
import { synthTestRows, synthTrainRows } from "./lib/synth-corpus.js";

const ROOT = path.resolve(__dirname, "..");
const DIR = path.join(ROOT, ".bench", "corpus-v1");
const TRIPLES = 65_666;
const SHARDS = 3;

async function generate(): Promise<void> {
  if (existsSync(path.join(DIR, "done"))) return;
  rmSync(DIR, { recursive: true, force: true });
  mkdirSync(path.join(DIR, "train"), { recursive: true });
  const t0 = Date.now();
  const perShard = Math.ceil(TRIPLES / SHARDS) * 3;
  let shard = -1;
  let writer: ReturnType<typeof openMultifacetParquet> | undefined;
  let inShard = perShard;
  let batch: Record<string, unknown>[] = [];
  for (const row of synthTrainRows(TRIPLES)) {
    if (inShard === perShard) {
      if (writer) {
        await writer.write(batch);
        batch = [];
        writer.close();
      }
      shard++;
      inShard = 0;
      writer = openMultifacetParquet(path.join(DIR, "train", `train-0000${shard}-of-0000${SHARDS}.parquet`), "train", 10_000);
    }
    batch.push(row);
    inShard++;
    if (batch.length === 10_000) {
      await writer!.write(batch);
      batch = [];
    }
  }
  await writer!.write(batch);
  writer!.close();
  const test = openMultifacetParquet(path.join(DIR, "test.parquet"), "test", 1000);
  await test.write([...synthTestRows(307)]);
  test.close();
  writeFileSync(path.join(DIR, "done"), "");
  console.log(`generated corpus in ${((Date.now() - t0) / 1000).toFixed(1)} s (${DIR})`);
}

function child(mode: "read" | "build"): { wallMs: number; cpuMs: number; maxRssMb: number; detail: string } {
  const out = execFileSync(process.execPath, ["--import", "tsx", path.join(__dirname, "bench-build-child.ts"), mode, DIR], {
    cwd: ROOT,
    encoding: "utf8",
    maxBuffer: 1 << 26,
  });
  return JSON.parse(out.trim().split("\n").pop()!) as { wallMs: number; cpuMs: number; maxRssMb: number; detail: string };
}

async function main() {
  await generate();
  const read = child("read");
  const build = child("build");
  const fmt = (n: number) => n.toFixed(0);
  const s = (ms: number) => (ms / 1000).toFixed(2);
  console.log(`parquet read only : ${s(read.wallMs)} s wall, ${s(read.cpuMs)} s CPU, peak RSS ${fmt(read.maxRssMb)} MB (${read.detail})`);
  console.log(`build (full scale): ${s(build.wallMs)} s wall, ${s(build.cpuMs)} s CPU, peak RSS ${fmt(build.maxRssMb)} MB (${build.detail})`);
  console.log(`build / read      : ${(build.wallMs / read.wallMs).toFixed(2)}x time, ${(build.maxRssMb / read.maxRssMb).toFixed(2)}x memory`);
  const ok = build.wallMs <= 20_000 && build.maxRssMb <= 1536;
  console.log(`budget (<= 20 s, <= 1.5 GB): ${ok ? "met" : "NOT MET"}`);
  const manifest = JSON.parse(readFileSync(path.join(DIR, "out", "manifest.json"), "utf8")) as { counts: unknown };
  console.log(`counts: ${JSON.stringify(manifest.counts)}`);
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
