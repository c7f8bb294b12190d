/** `preflab run EXPERIMENT.preflab.yaml`: every cell of an experiment file, then one report. */
import { parse, choiceOption, UsageError, type CliCommand } from "../command.js";
import { estimateExperiment, experimentReport, loadExperiment, runExperiment, ExperimentError } from "../../app/experiment.js";
import { formatEstimates } from "../../core/cost/estimate.js";
import { API_KEY_ENV } from "../../core/providers/registry.js";
import { ALLOW_ALL } from "../../app/gate.js";
import { cliAllowHint, cliOriginStore, KeyDestinationPolicy } from "../../app/origins.js";
import { exitCode, formatProgress } from "../batch.js";
import type { Progress } from "../../core/eval/runner.js";
import type { BatchProgress } from "../../core/batch/provider.js";
import path from "node:path";

const HELP = `Usage: preflab run EXPERIMENT.preflab.yaml [--only CELL[,CELL...]] [--estimate] [options]

Runs every cell of an experiment file (models x evaluations x options, see README "Experiments
and cost") as an ordinary run folder under the experiment's folder: unfinished cells resume,
finished cells with the same settings are skipped, a cell whose settings changed is refused.
Ends with one report over all cells: the paper's tables side by side and paired tests between
cells of one evaluation (McNemar for rm, paired bootstrap for judge), then the fine-tuning data
cells (rs: kept / dropped per part and margins; export: lines written, files).
rs and export cells run \`preflab rs\` / \`preflab export\` into OUT/CELL (export sends nothing).

Options:
  --only CELL,...        run only these cells
  --estimate             print each cell's requests, tokens, cacheable share and dollars
                         (naive / cached / batch+cached) and the total; sends nothing
  --report               only print the report over the cells that have run
  --allow-origin ORIGIN  let an API key go to a base URL the experiment file names (repeatable)
  --concurrency N        parallel requests per cell (default 8)
  --no-cache             no response cache (default .preflab/cache/responses)
  --format text|md|json  report format (default text)
Keys: OPENAI_API_KEY, ANTHROPIC_API_KEY, OPENAI_COMPATIBLE_API_KEY from the environment.
`;

export const runCommand: CliCommand = {
  name: "run",
  summary: "run an experiment file (*.preflab.yaml): every cell, then one report",
  help: HELP,
  async run(argv, io) {
    const { values, positionals } = parse(argv, {
      only: { type: "string" },
      estimate: { type: "boolean" },
      report: { type: "boolean" },
      "allow-origin": { type: "string", multiple: true },
      concurrency: { type: "string" },
      "no-cache": { type: "boolean" },
      format: { type: "string" },
    });
    if (positionals.length !== 1) throw new UsageError("expected one experiment file");
    const format = choiceOption(values.format, "format", ["text", "md", "json"] as const, "text");
    const only = typeof values.only === "string" ? values.only.split(",").map((s) => s.trim()).filter(Boolean) : undefined;
    let exp;
    try {
      exp = await loadExperiment(positionals[0]!);
    } catch (e) {
      if (e instanceof ExperimentError) throw new UsageError(e.message);
      throw e;
    }
    const getKey = (p: keyof typeof API_KEY_ENV) => {
      const env = API_KEY_ENV[p];
      return env ? process.env[env] || undefined : undefined;
    };
    if (values.report) {
      io.out(await experimentReport(exp, format));
      return 0;
    }
    if (values.estimate) {
      const { estimates, pending } = await estimateExperiment(exp, { getKey }, only);
      io.out(`Estimate for ${exp.spec.name} (nothing was sent):\n${formatEstimates(estimates)}`);
      for (const p of pending) io.out(`  ${p.cell}: no estimate yet (${p.why})\n`);
      return 0;
    }
    const concurrency = values.concurrency === undefined ? undefined : Number(values.concurrency);
    if (concurrency !== undefined && !(Number.isInteger(concurrency) && concurrency >= 1)) throw new UsageError(`--concurrency must be an integer >= 1, got "${String(values.concurrency)}"`);
    const ac = new AbortController();
    const onSigint = () => {
      io.err(`\npreflab run: cancelling; rerun the same command to resume.\n`);
      ac.abort();
    };
    process.once("SIGINT", onSigint);
    let failed = 0;
    let cancelled = false;
    try {
      const result = await runExperiment(
        exp,
        {
          getKey,
          runner: { ...(concurrency ? { concurrency } : {}), cacheDir: values["no-cache"] ? false : path.resolve(".preflab", "cache", "responses") },
          policy: new KeyDestinationPolicy({ gate: ALLOW_ALL, store: cliOriginStore(values["allow-origin"]), allowHint: cliAllowHint }),
          hooksFor: (cell) => {
            let last = 0;
            return {
              gate: ALLOW_ALL,
              signal: ac.signal,
              onProgress: (p: Progress) => {
                if (Date.now() - last < 1000 && p.done + p.failed < p.total) return;
                last = Date.now();
                io.err(`[${cell.name}] ${formatProgress(p, true)}\n`);
              },
              onBatchProgress: (b: BatchProgress) => io.err(`[${cell.name}] batch ${b.batchId} ${b.status}: ${b.counts.succeeded}/${b.counts.total} succeeded, ${b.counts.errored} errored\n`),
            };
          },
          onCell: (cell, event, detail) => io.err(`${cell.name}: ${event}${detail ? ` (${detail})` : ""}\n`),
        },
        only,
      );
      cancelled = result.cancelled;
      for (const c of result.cells) {
        if (c.outcome && exitCode(c.outcome.summary) === 1) failed++;
        // rs: an example without a margin (a failed request) is not kept; a rerun retries it, as with `preflab rs`.
        if (c.finetune?.kind === "rs" && c.finetune.report.counts.failed + c.finetune.report.counts.missing > 0) failed++;
      }
    } catch (e) {
      if (e instanceof ExperimentError) throw new UsageError(e.message);
      throw e;
    } finally {
      process.removeListener("SIGINT", onSigint);
    }
    io.out(await experimentReport(exp, format));
    if (cancelled) return 130;
    return failed > 0 ? 1 : 0;
  },
};
