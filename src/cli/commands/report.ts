import { buildReport, formatReport } from "../../core/metrics/report.js";
import { compareRuns } from "../../core/metrics/compare.js";
import { choiceOption, intOption, parse, table, UsageError, type CliCommand } from "../command.js";

export const reportCommand: CliCommand = {
  name: "report",
  summary: "tables of one or more runs (Tables 1-3, steerability) as text, md, csv or json",
  help: `Usage: preflab report RUN_DIR... [--format text|md|csv|json] [--seed N]

Reward-model runs give Table 1 (accuracy by dimension with 95% CIs); judge runs give Table 2
(with / without history, relative delta, paired p-value), Table 3 (runs side by side) and, for
--cross judge runs, the steerability table. Every report names its runs and their provenance
(provider, model, parameters, seed, dataset manifest hash, template hash).

JSON: {runs: [...], rm?: {byDimension: {<dimension>: {accuracy, ci: [lo, hi], n,
consistentAccuracy, aRate, unparsable, ...}}}, generation?: {byDimension: {<dimension>:
{withHistory, withoutHistory, delta, ...}}}, steerability?: {...}, perRun: [...]}; accuracies
are fractions in 0..1; rm / generation / steerability are the first run of that kind.

Options:
  --format F   text (default), md, csv or json
  --seed N     bootstrap seed (default 0)
`,
  async run(argv, io) {
    const { values, positionals } = parse(argv, { format: { type: "string" }, seed: { type: "string" } });
    if (positionals.length === 0) throw new UsageError("expected one or more run directories");
    const format = choiceOption(values.format, "format", ["text", "md", "csv", "json"] as const, "text");
    io.out(formatReport(await buildReport(positionals, { seed: intOption(values.seed, "seed", 0) }), format));
    return 0;
  },
};

const f = (x: number) => x.toFixed(4);

export const compareCommand: CliCommand = {
  name: "compare",
  summary: "paired significance test of two runs (McNemar for rm, bootstrap for judge)",
  help: `Usage: preflab compare RUN_A RUN_B [--json] [--seed N]

Two reward-model runs: McNemar's exact test on the items both answered (b = A right and B
wrong, c = the reverse). Two judge runs: paired bootstrap of the score difference (B - A) on
the items both scored, with a 95% CI and a two-sided p-value.
`,
  async run(argv, io) {
    const { values, positionals } = parse(argv, { json: { type: "boolean" }, seed: { type: "string" } });
    if (positionals.length !== 2) throw new UsageError("expected two run directories");
    const c = await compareRuns(positionals[0]!, positionals[1]!, intOption(values.seed, "seed", 0));
    if (values.json) {
      io.out(JSON.stringify(c, null, 2) + "\n");
      return 0;
    }
    if (c.kind === "rm") {
      const rows = [...Object.entries(c.byDimension), ["overall", c.overall] as const].map(([d, x]) => [d, x.n, f(x.accuracyA), f(x.accuracyB), x.b, x.c, f(x.pValue)]);
      io.out(table(["dimension", "n", "acc A", "acc B", "b (A only)", "c (B only)", "p (McNemar exact)"], rows));
    } else {
      const rows = [...Object.entries(c.byDimension), ["overall", c.overall] as const].map(([d, x]) => [d, x.n, f(x.meanA), f(x.meanB), f(x.meanDiff), `[${f(x.ci.lo)}, ${f(x.ci.hi)}]`, f(x.pValue)]);
      io.out(table(["dimension", "n", "mean A", "mean B", "B - A", "95% CI", "p (paired bootstrap)"], rows));
    }
    return 0;
  },
};
