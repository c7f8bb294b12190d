/**
 * Fine-tuning data at scale (issues 11 and 14): `export` of SFT (part a) and DPO (part b) files for
 * TRL, and `preflab rs` (scalar rewards from an instant vLLM-style /classify server in its own
 * process, through the real ScalarRewardProvider and one run session), on synthetic pair sets of
 * growing size, by default a small one and the full-scale train set (196,998 rows = 65,666
 * instructions). Each measurement runs in a fresh process; prints wall and CPU time, CPU per item
 * (over all items, and after the first 1,000: start-up, opening the index and JIT are a large
 * share of a small run) and peak RSS per size, then per job the steady CPU per item at each
 * size, the ratio largest / smallest and the peak RSS. Budget: CPU time per item about constant across sizes (within 1.5x) and peak
 * RSS <= 700 MB. The load average is printed at the start and the end (compare ratios from one run).
 *
 *   npx tsx scripts/bench-finetune.ts [--sizes 4000,65666] [--only sft,dpo,rs] [--rs-part a|b|all] [--keep]
 *
 * Sizes are train instructions (3 rows each). rs scores part a (1/3 of the instructions, the
 * part the paper trains the reward model on) by default; the history pool is always the whole
 * train set. Responses are short (200-600 characters): retrieval and the run log, not text
 * volume, are what is measured. On two shared cores the full size takes about 10 minutes.
 */
import { execFileSync, spawn } from "node:child_process";
import { createWriteStream, existsSync, mkdirSync, rmSync, writeFileSync } from "node:fs";
import { cpus, loadavg } from "node:os";
import * as path from "node:path";
import { createInterface } from "node:readline";
import { parseArgs } from "node:util";

const ROOT = path.resolve(__dirname, "..");
const BENCH = path.join(ROOT, ".bench", "finetune-v1");
const BUDGET_MB = 700;
const GROWTH_BUDGET = 1.5;
/** The full-scale train set: 65,666 instructions, 196,998 rows and pairs. */
const FULL = 65666;

export interface Figure {
  wallMs: number;
  /** CPU time of the measured process (the reward server runs in its own process). */
  cpuMs: number;
  items: number;
  /** CPU time and items after the first 1,000 items (start-up, opening the index and JIT behind). */
  steadyCpuMs: number;
  steadyItems: number;
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

type Job = "sft" | "dpo" | "rs";
const JOBS: Job[] = ["sft", "dpo", "rs"];

async function main(): Promise<void> {
  const { values } = parseArgs({ options: { sizes: { type: "string" }, "rs-part": { type: "string" }, keep: { type: "boolean" }, only: { type: "string" } } });
  const sizes = (values.sizes ?? `4000,${FULL}`).split(",").map(Number);
  const rsPart = values["rs-part"] ?? "a";
  const jobs = values.only ? (values.only.split(",") as Job[]) : JOBS;
  for (const j of jobs) if (!JOBS.includes(j)) throw new Error(`--only takes ${JOBS.join(",")}, got ${j}`);
  const load = () => loadavg().map((x) => x.toFixed(2)).join(" ");
  console.log(`load average at start (1, 5, 15 min; ${cpus().length} CPUs): ${load()}`);
  const server = await startServer();
  const rows: string[] = [];
  const figures = new Map<Job, Figure[]>(jobs.map((j) => [j, []]));
  try {
    for (const t of sizes) {
      console.log(`size ${t} instructions (${t * 3} train rows)`);
      const ds = await dataset(t);
      const work = path.join(BENCH, `t${t}`, "work");
      rmSync(work, { recursive: true, force: true });
      mkdirSync(work, { recursive: true });
      rows.push(`${String(t * 3).padStart(7)} rows`);
      for (const job of jobs) {
        const f = job === "rs" ? child(["rs", ds, path.join(work, "rs"), server.url, rsPart]) : child(["export", ds, path.join(work, job), job]);
        figures.get(job)!.push(f);
        const unit = job === "rs" ? "request" : "example";
        rows.push(
          `  ${(job === "rs" ? "rs" : `export ${job}`).padEnd(10)} ${String(f.items).padStart(7)} ${unit}s ${(f.wallMs / 1000).toFixed(1).padStart(6)} s wall, ${(f.cpuMs / 1000).toFixed(1).padStart(6)} s CPU ${((f.cpuMs / f.items) * 1000).toFixed(0).padStart(5)} us/${unit} (${((f.steadyCpuMs / f.steadyItems) * 1000).toFixed(0)} after the first 1,000)  peak RSS ${f.maxRssMb.toFixed(0).padStart(4)} MB  (${f.detail})`,
        );
        console.log(rows.at(-1));
      }
      if (!values.keep) rmSync(work, { recursive: true, force: true });
    }
  } finally {
    server.stop();
  }
  console.log(`\nsummary (load average at the end: ${load()})`);
  for (const r of rows) console.log(r);
  let met = true;
  for (const [job, fs] of figures) {
    const per = fs.map((f) => f.steadyCpuMs / f.steadyItems);
    const growth = per.at(-1)! / per[0]!;
    const peak = Math.max(...fs.map((f) => f.maxRssMb));
    met &&= peak <= BUDGET_MB && growth <= GROWTH_BUDGET;
    console.log(
      `${(job === "rs" ? "rs" : `export ${job}`).padEnd(10)} CPU per item after the first 1,000 ${per.map((x) => `${(x * 1000).toFixed(0)} us`).join(" -> ")}: ${growth.toFixed(2)}x for ${(sizes.at(-1)! / sizes[0]!).toFixed(1)}x the data; peak RSS ${peak.toFixed(0)} MB`,
    );
  }
  console.log(`budget (per-item CPU time within ${GROWTH_BUDGET}x from the smallest to the largest size, peak RSS <= ${BUDGET_MB} MB): ${met ? "met" : "NOT MET"}`);
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
