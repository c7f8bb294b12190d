/**
 * One measured process of bench-build.ts; prints one JSON line (wall time, CPU, peak RSS, detail).
 * Modes: read (the Parquet shards row group by row group: the floor), build, export-sft,
 * export-dpo, reader (what the extension does on the built dataset, each step timed).
 */
import { readdirSync, statSync } from "node:fs";
import * as path from "node:path";
import { buildDataset } from "../src/core/data/builder.js";
import { readRawRows, resolveInputs } from "../src/core/data/loaders.js";
import { UsersIndex } from "../src/core/data/users-index.js";
import { exportFinetuneData } from "../src/core/finetune/export.js";
import { TripleViewLoader } from "../src/core/views/triple-view.js";

const dirSize = (d: string) => readdirSync(d).reduce((n, f) => n + statSync(path.join(d, f)).size, 0);

async function main() {
  const [mode, dir, out] = process.argv.slice(2) as [string, string, string];
  const t0 = performance.now();
  const extra: Record<string, number> = {};
  let detail = "";
  if (mode === "read") {
    let rows = 0;
    let chars = 0;
    for (const f of [...(await resolveInputs(path.join(dir, "train"))), path.join(dir, "test.parquet")]) {
      for await (const { raw } of readRawRows(f)) {
        rows++;
        chars += String((raw as { output?: string }).output ?? (raw as { reference_answer?: string }).reference_answer).length;
      }
    }
    extra.rows = rows;
    detail = `${rows} rows, ${(chars / 1e6).toFixed(0)} M response characters`;
  } else if (mode === "build") {
    const { manifest } = await buildDataset({ train: path.join(dir, "train"), test: path.join(dir, "test.parquet"), out, force: true });
    extra.outBytes = dirSize(out);
    detail = `${manifest.counts.trainPairs} pairs, ${manifest.counts.users} users, ${manifest.shortHistories.length} short histories, output ${(extra.outBytes / 1e6).toFixed(0)} MB`;
  } else if (mode === "export-sft" || mode === "export-dpo") {
    const format = mode === "export-sft" ? "sft" : "dpo";
    const target = path.join(path.dirname(out), `export-${format}`);
    const r = await exportFinetuneData(out, { format, target: "trl", out: target, force: true });
    extra.outBytes = dirSize(target);
    detail = `${r.counts.written} examples (part ${r.options.part}), ${(extra.outBytes / 1e6).toFixed(0)} MB written`;
  } else if (mode === "reader") {
    // What the extension does, in the order a user does it: the users tree, one user's history,
    // the first triple in the triple view, a search over all test triples.
    let t = performance.now();
    const lap = () => {
      const now = performance.now();
      const ms = now - t;
      t = now;
      return ms;
    };
    const users = await UsersIndex.load(out);
    extra.usersMs = lap();
    const some = users.all[Math.floor(users.size / 2)]!;
    const u = await users.user(some.id);
    extra.historyMs = lap();
    const loader = new TripleViewLoader();
    const model = await loader.load(out, (await users.dataset.tripleIds())[0]!);
    extra.tripleMs = lap();
    const hits = await loader.searchTriples(out, "energy");
    extra.searchMs = lap();
    const next = await loader.load(out, model.tripleIds[1]!);
    extra.nextTripleMs = lap();
    detail = `${users.size} users, history of ${u!.history.length} pairs, triple with ${Object.keys(model.users).length} dimensions, search: ${hits.total} hits, next triple ${next.triple.id}`;
  }
  const wallMs = performance.now() - t0;
  const cpu = process.cpuUsage();
  console.log(JSON.stringify({ wallMs, cpuMs: (cpu.user + cpu.system) / 1000, maxRssMb: process.resourceUsage().maxRSS / 1024, detail, ...extra }));
}
main().catch((e) => {
  console.error(e);
  process.exit(1);
});
