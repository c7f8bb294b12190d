/**
 * Fine-tuning data at scale (issue 11): `export` (DPO, TRL) and `preflab rs` (scalar rewards from an
 * instant vLLM-style /classify server in its own process, through the real ScalarRewardProvider and
 * one run session) on synthetic pair sets of growing size, up to the full-scale train set (196,998
 * rows = 65,666 instructions). Each measurement runs in a fresh process; prints wall and CPU time,
 * per item, and peak RSS per size. Budget: CPU time per item about constant across sizes (no
 * superlinear part: no re-reads of the run, history retrieval indexed) and peak RSS <= 700 MB.
 *
 *   npx tsx scripts/bench-finetune.ts [--sizes 8000,32000,65666] [--rs-part a|b|all] [--keep]
 *
 * Sizes are train instructions (3 rows each). rs scores part a (1/3 of the instructions, the
 * part the paper trains the reward model on) by default so the full run stays within minutes on
 * two cores; the history pool is always the whole train set. Responses are short (200-600
 * characters): retrieval and the run log, not text volume, are what is measured.
 */
import { execFileSync, spawn } from "node:child_process";
import { createWriteStream, existsSync, mkdirSync, rmSync, writeFileSync } from "node:fs";
import * as path from "node:path";
import { createInterface } from "node:readline";
import { parseArgs } from "node:util";

const ROOT = path.resolve(__dirname, "..");
const BENCH = path.join(ROOT, ".bench", "finetune-v1");
const BUDGET_MB = 700;

interface Figure {
  wallMs: number;
  /** CPU time of the measured process (the reward server runs in its own process). */
  cpuMs: number;
  items: number;
  maxRssMb: number;
  detail: string;
}

async function writeLines(file: string, rows: Iterable<Record<string, unknown>>): Promise<void> {
  const out = createWriteStream(file);
  for (const r of rows) if (!out.write(JSON.stringify(r) + "\n")) await new Promise<void>((res) => out.once("drain", () => res()));
  await new Promise<void>((res, rej) => out.end((e?: Error | null) => (e ? rej(e) : res())));
}

function child(args: string[]): Figure {
  const out = execFileSync(process.execPath, ["--import", "tsx", path.join(__dirname, "bench-finetune-child.ts"), ...args], { cwd: ROOT, encoding: "utf8", maxBuffer: 1 << 26, stdio: ["ignore", "pipe", "inherit"] });
  return JSON.parse(out.trim().split("\n").pop()!) as Figure;
}

async function dataset(instructions: number): Promise<string> {
  const dir = path.join(BENCH, `t${instructions}`);
  const ds = path.join(dir, "dataset");
  if (existsSync(path.join(dir, "done"))) return ds;
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir, { recursive: true });
  const { synthTestRows, synthTrainRows } = await import("./lib/synth-corpus.js");
  const o = { responseChars: [200, 600] as [number, number] };
  await writeLines(path.join(dir, "train.jsonl"), synthTrainRows(instructions, o));
  await writeLines(path.join(dir, "test.jsonl"), synthTestRows(50, o));
  const f = child(["build", dir]);
  console.log(`  built ${instructions} instructions in ${(f.wallMs / 1000).toFixed(1)} s (${f.detail})`);
  rmSync(path.join(dir, "train.jsonl"));
  writeFileSync(path.join(dir, "done"), "");
  return ds;
}

async function startServer(): Promise<{ url: string; stop: () => void }> {
  const c = spawn(process.execPath, ["--import", "tsx", path.join(ROOT, "test/servers/serve.ts"), "--instant"], { stdio: ["pipe", "pipe", "inherit"] });
  const rl = createInterface({ input: c.stdout });
  const first = await new Promise<string>((resolve, reject) => {
    rl.once("line", resolve);
    c.once("exit", (code) => reject(new Error(`test server exited (${code})`)));
  });
  rl.close();
  return { url: (JSON.parse(first) as { url: string }).url, stop: () => c.kill("SIGTERM") };
}

async function main(): Promise<void> {
  const { values } = parseArgs({ options: { sizes: { type: "string" }, "rs-part": { type: "string" }, keep: { type: "boolean" } } });
  const sizes = (values.sizes ?? "4000,16000,65666").split(",").map(Number);
  const rsPart = values["rs-part"] ?? "a";
  const server = await startServer();
  const rows: string[] = [];
  let peak = 0;
  const perItem: { export: number[]; rs: number[] } = { export: [], rs: [] };
  try {
    for (const t of sizes) {
      console.log(`size ${t} instructions (${t * 3} train rows)`);
      const ds = await dataset(t);
      const work = path.join(BENCH, `t${t}`, "work");
      rmSync(work, { recursive: true, force: true });
      mkdirSync(work, { recursive: true });
      const ex = child(["export", ds, path.join(work, "export")]);
      const rs = child(["rs", ds, path.join(work, "rs"), server.url, rsPart]);
      peak = Math.max(peak, ex.maxRssMb, rs.maxRssMb);
      perItem.export.push(ex.cpuMs / ex.items);
      perItem.rs.push(rs.cpuMs / rs.items);
      const line = (name: string, f: Figure, unit: string) =>
        `  ${name.padEnd(7)} ${String(f.items).padStart(7)} ${unit}  ${(f.wallMs / 1000).toFixed(1).padStart(6)} s wall ${((f.wallMs / f.items) * 1000).toFixed(0).padStart(5)} us/${unit.replace(/s$/, "")}, ${(f.cpuMs / 1000).toFixed(1).padStart(6)} s CPU ${((f.cpuMs / f.items) * 1000).toFixed(0).padStart(5)} us/${unit.replace(/s$/, "")}  peak RSS ${f.maxRssMb.toFixed(0)} MB  (${f.detail})`;
      rows.push(`${String(t * 3).padStart(7)} rows`, line("export", ex, "examples"), line("rs", rs, "requests"));
      console.log(rows.slice(-2).join("\n"));
      if (!values.keep) rmSync(work, { recursive: true, force: true });
    }
  } finally {
    server.stop();
  }
  console.log("\nsummary");
  for (const r of rows) console.log(r);
  const growth = (xs: number[]) => xs[xs.length - 1]! / xs[0]!;
  console.log(`CPU time per item (wall time depends on the machine's load), largest / smallest size: export ${growth(perItem.export).toFixed(2)}x, rs ${growth(perItem.rs).toFixed(2)}x (for ${(sizes.at(-1)! / sizes[0]!).toFixed(1)}x the data)`);
  console.log(`peak RSS ${peak.toFixed(0)} MB; budget (<= ${BUDGET_MB} MB, per-item time within 1.5x): ${peak <= BUDGET_MB && growth(perItem.export) <= 1.5 && growth(perItem.rs) <= 1.5 ? "met" : "NOT MET"}`);
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
