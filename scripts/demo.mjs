// `npm run demo`: the README's main job on the bundled sample, offline and keyless — build the
// counterfactual dataset, run the reward-model evaluation with the `baseline` provider and print
// the Table 1-style report.
import { rmSync } from "node:fs";
import { createRequire } from "node:module";

const require = createRequire(import.meta.url);
const { main } = require("../dist/cli.cjs");
const run = async (args) => {
  console.log(`\n$ preflab ${args.join(" ")}\n`);
  const code = await main(args);
  if (code !== 0) process.exit(code);
};

rmSync(".preflab/demo/rm-baseline", { recursive: true, force: true });
await run(["build", "--train", "samples/train.jsonl", "--test", "samples/test.jsonl", "--out", ".preflab/demo/dataset", "--force"]);
await run(["rm", ".preflab/demo/dataset", "--provider", "baseline", "--out", ".preflab/demo/rm-baseline", "--no-cache"]);
