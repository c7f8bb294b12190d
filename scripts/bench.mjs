// `npm run bench`: every performance budget, measured and printed (never asserted in unit tests).
// Each benchmark runs in its own process, one after the other, so they do not disturb each other.
import { spawnSync } from "node:child_process";
import { existsSync } from "node:fs";

const benches = [
  ["dataset build (issue 2)", "scripts/bench-build.ts"],
  ["batch runner overhead (issue 3)", "scripts/bench-runner.ts"],
  ["llama.cpp verdicts and prefix reuse (issue 3)", "scripts/bench-llama.ts"],
  ["webview render (issue 5)", "scripts/bench-webview.ts"],
  ["extension activation in code-server (needs scripts/e2e-setup.sh)", "scripts/bench-activation.ts"],
  ["fine-tuning export and rs at full scale (issue 11)", "scripts/bench-finetune.ts"],
  ["experiments at scale: full-scale cost estimate and the batch path (issue 13)", "scripts/bench-scale.ts"],
].filter(([, file]) => existsSync(file));

let failed = 0;
for (const [name, file] of benches) {
  console.log(`\n=== ${name}: ${file}`);
  const r = spawnSync(process.execPath, ["--import", "tsx", file], { stdio: "inherit" });
  if (r.status !== 0) {
    failed++;
    console.log(`(exited ${r.status})`);
  }
}
process.exit(failed ? 1 : 0);
