/** One measured process of bench-finetune.ts: `build DIR`, `export DATASET OUT sft|dpo` or `rs DATASET OUT URL PART`. Prints one JSON line. */
import * as path from "node:path";
import { buildDataset } from "../src/core/data/builder.js";
import { exportFinetuneData } from "../src/core/finetune/export.js";
import type { PartChoice } from "../src/core/finetune/examples.js";
import { runRejectionSampling } from "../src/core/finetune/rs.js";
import { ScalarRewardProvider, SCALAR_REWARD_ID } from "../src/core/finetune/scalar-reward.js";

/** Items done before the steady-state CPU count starts. */
const WARM = 1000;

async function main(): Promise<void> {
  const [mode, a, b, c, d] = process.argv.slice(2) as [string, string, string, string, string];
  const t0 = performance.now();
  const cpu0 = process.cpuUsage();
  let items = 0;
  let detail = "";
  // The steady state: CPU from the moment `WARM` items are done (start-up, index and JIT behind).
  let mark: { cpu: number; done: number } | undefined;
  const cpuNow = () => {
    const u = process.cpuUsage(cpu0);
    return (u.user + u.system) / 1000;
  };
  const progress = (done: number) => {
    if (!mark && done >= WARM) mark = { cpu: cpuNow(), done };
  };
  if (mode === "build") {
    const { manifest } = await buildDataset({ train: path.join(a, "train.jsonl"), test: path.join(a, "test.jsonl"), out: path.join(a, "dataset"), force: true });
    items = manifest.counts.trainPairs;
    detail = `${manifest.counts.trainPairs} pairs`;
  } else if (mode === "export") {
    const format = c === "sft" ? "sft" : "dpo"; // the defaults: SFT on part a, DPO on part b
    const r = await exportFinetuneData(a, { format, target: "trl", out: b, onProgress: progress });
    items = r.counts.written;
    detail = `${format} part ${r.options.part} of ${r.counts.trainPairs} pairs, ${r.counts.shortHistories} short histories`;
  } else if (mode === "rs") {
    const provider = new ScalarRewardProvider({ baseUrl: c, model: "rm-bench" });
    const { report, summary } = await runRejectionSampling(a, { out: b, part: d as PartChoice }, provider, {
      concurrency: 32,
      timeoutMs: 30_000,
      maxRetries: 2,
      cacheDir: false,
      meta: { provider: SCALAR_REWARD_ID, model: "rm-bench", params: {} },
      onProgress: (p) => progress(p.done),
    });
    items = summary.totals.items;
    detail = `${report.counts.examples} examples of part ${d}, ${report.counts.kept} kept, run ${summary.status}, ${summary.totals.done} done`;
    if (summary.status !== "finished" || summary.totals.done !== summary.totals.items) throw new Error(`rs did not finish: ${JSON.stringify(summary.totals)}`);
  } else throw new Error(`unknown mode ${mode}`);
  const wallMs = performance.now() - t0;
  const cpuMs = cpuNow();
  const steady = mark && items > mark.done ? { steadyCpuMs: cpuMs - mark.cpu, steadyItems: items - mark.done } : { steadyCpuMs: cpuMs, steadyItems: items };
  console.log(JSON.stringify({ wallMs, cpuMs, items, ...steady, maxRssMb: process.resourceUsage().maxRSS / 1024, detail }));
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
