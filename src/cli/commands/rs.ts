/** `preflab rs`: rejection sampling of train data by a personalized reward model (a run through the session). */
import path from "node:path";
import { formatRsReport, runRejectionSampling, DEFAULT_KEEP, RS_RULES, type RsOptions } from "../../core/finetune/rs.js";
import { SCALAR_DEFAULTS, SCALAR_REWARD_ID } from "../../core/finetune/scalar-reward.js";
import { choiceOption, parse, UsageError, type CliCommand } from "../command.js";
import { providerOptionSpec, providerOptionsHelp, resolveProviderOptions } from "../provider-options.js";
import { formatSummary, runWithProvider } from "../batch.js";
import { exampleOptions, exampleSpec, EXAMPLE_HELP, fraction, type Values } from "./example-options.js";

const RS_HELP = `Usage: preflab rs DATASET_DIR --rm-provider ID --out DIR [options]

Rejection sampling (paper section 4.3): scores every train example with a personalized reward
model and keeps the top p by reward margin, per split part. Resumable: rerun the same command.
  probability providers (baseline, openai, llamacpp): the reward-model prompt (B.1) in both orders;
    reward(chosen) = mean P(chosen) over the orders, margin = reward(chosen) - reward(rejected)
  --rm-provider ${SCALAR_REWARD_ID}: a served Bradley-Terry reward model (vLLM pooling/classify);
    margin = r(history + instruction + chosen) - r(... + rejected)
DIR gets run/ (the batch run), scores.jsonl (per example: rewards, margin, kept), rs.json (report:
kept / dropped counts, margin quantiles and histogram). Then: preflab export ... --keep-from DIR.

Options:
  --out DIR                  output folder (created; reused to resume)
  --keep P                   fraction kept (default ${DEFAULT_KEEP})
  --rs-rule signed|absolute  keep the top p by signed margin (default), or drop the smallest
                             |margin| (the paper's "reward differences are marginal", literally)
  --part a|b|all             parts to score (default all; each part keeps its own top p)
  --rm-template FILE         reward-model template (probability mode); default the paper's B.1
  --json                     print rs.json
${EXAMPLE_HELP}
Scalar reward endpoint (--rm-provider ${SCALAR_REWARD_ID}, with --rm-base-url and --rm-model):
  --rm-path PATH             endpoint path (default ${SCALAR_DEFAULTS.path}); e.g. /pooling
  --rm-score-path P          JSON path of the score (default ${SCALAR_DEFAULTS.scorePath}; /pooling: data.0.data.0)
  --rm-input messages|text   chat messages (default; the server applies the chat template) or plain text
  key (optional): OPENAI_COMPATIBLE_API_KEY, sent as a Bearer token
${providerOptionsHelp("rm-")}
`;

export const rsCommand: CliCommand = {
  name: "rs",
  summary: "rejection sampling of train data by a personalized reward model",
  help: RS_HELP,
  async run(argv, io) {
    const { values: parsed, positionals } = parse(argv, {
      ...exampleSpec,
      keep: { type: "string" },
      "rs-rule": { type: "string" },
      "rm-template": { type: "string" },
      "rm-path": { type: "string" },
      "rm-score-path": { type: "string" },
      "rm-input": { type: "string" },
      ...providerOptionSpec("rm-"),
    });
    const values = parsed as Values;
    if (positionals.length !== 1) throw new UsageError("expected one dataset directory");
    if (!values.out) throw new UsageError("--out is required");
    // --rm-path / --rm-input are the older names of --rm-endpoint-path / --rm-reward-input.
    if (values["rm-path"] !== undefined) values["rm-endpoint-path"] ??= values["rm-path"];
    if (values["rm-input"] !== undefined) values["rm-reward-input"] ??= values["rm-input"];
    // A scalar-reward provider is a registry provider: flags or a registered reward model's name (--rm-model NAME).
    const resolved = await resolveProviderOptions(values, { prefix: "rm-" });
    const part = values.part === undefined ? "all" : choiceOption(values.part as string, "part", ["a", "b", "all"] as const, "all");
    const ex = exampleOptions(values);
    const opts: RsOptions = {
      ...ex,
      part,
      out: path.resolve(values.out as string),
      keep: fraction(values.keep as string | undefined, "keep", DEFAULT_KEEP),
      rule: choiceOption(values["rs-rule"] as string | undefined, "rs-rule", RS_RULES, "signed"),
      rmTemplate: values["rm-template"] as string | undefined,
    };
    const { report, summary } = await runWithProvider("rs", resolved, io, (provider, runner) => runRejectionSampling(positionals[0]!, opts, provider, runner));
    io.err(formatSummary("rs scoring", summary, resolved.config.pricing !== undefined));
    if (summary.status === "cancelled") return 130;
    io.out(values.json ? JSON.stringify(report, null, 2) + "\n" : formatRsReport(report));
    const unscored = report.counts.failed + report.counts.missing;
    if (unscored > 0) {
      io.err(`rs: ${unscored} example(s) have no margin (failed requests) and were not kept; rerun the same command to retry them\n`);
      return 1;
    }
    io.err(`rs: next: preflab export ${positionals[0]} --format sft|dpo --target openai|trl --out DIR --keep-from ${opts.out}\n`);
    return 0;
  },
};

