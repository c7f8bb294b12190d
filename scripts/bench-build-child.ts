/** One measured process of bench-build.ts: `read` (Parquet only) or `build`. Prints one JSON line. */
import * as path from "node:path";
import { buildDataset } from "../src/core/data/builder.js";
import { readRawRows, resolveInputs } from "../src/core/data/loaders.js";

async function main() {
  const [mode, dir] = process.argv.slice(2) as ["read" | "build", string];
  const t0 = performance.now();
  let detail = "";
  if (mode === "read") {
    let rows = 0;
    let chars = 0;
    for (const f of [...(await resolveInputs(path.join(dir, "train"))), path.join(dir, "test.parquet")]) {
      for await (const { raw } of readRawRows(f)) {
        rows++;
        chars += String((raw as { output?: string; reference_answer?: string }).output ?? (raw as { reference_answer?: string }).reference_answer).length;
      }
    }
    detail = `${rows} rows, ${(chars / 1e6).toFixed(0)} M response characters`;
  } else {
    const { manifest } = await buildDataset({ train: path.join(dir, "train"), test: path.join(dir, "test.parquet"), out: path.join(dir, "out"), force: true });
    detail = `${manifest.counts.trainPairs} pairs, ${manifest.counts.users} users, ${manifest.shortHistories.length} short histories`;
  }
  const wallMs = performance.now() - t0;
  const cpu = process.cpuUsage();
  console.log(JSON.stringify({ wallMs, cpuMs: (cpu.user + cpu.system) / 1000, maxRssMb: process.resourceUsage().maxRSS / 1024, detail }));
}
main().catch((e) => {
  console.error(e);
  process.exit(1);
});
