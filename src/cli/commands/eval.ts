/** `preflab rm`, `preflab generate`, `preflab judge`: the paper's evaluations as resumable runs. */
import path from "node:path";
import { DIMENSIONS } from "../../core/data/schema.js";
import { GENERATION_DIMENSIONS, planGeneration } from "../../core/eval/generation.js";
import { planRm } from "../../core/eval/rm.js";
import { planJudge } from "../../core/eval/judge.js";
import { printEstimate } from "../estimate.js";
import { JANUS_MAX_RETRIES } from "../../core/eval/janus.js";
import { DEFAULT_MIN_VERDICT_MASS, JUDGE_PARSERS } from "../../core/eval/parse.js";
import { buildReport, formatReport } from "../../core/metrics/report.js";
import { choiceOption, dimensionsOption, intOption, numberOption, parse, UsageError, type CliCommand } from "../command.js";
import { providerOptionSpec, providerOptionsHelp, resolveProviderOptions } from "../provider-options.js";
import { exitCode, formatSummary, runEvaluationCli } from "../batch.js";

const evalCommon = {
  out: { type: "string" },
  dimensions: { type: "string" },
  limit: { type: "string" },
  template: { type: "string" },
  "history-template": { type: "string" },
  "max-input-tokens": { type: "string" },
  format: { type: "string" },
  estimate: { type: "boolean" },
} as const;

const ESTIMATE_HELP = `  --estimate                 print requests, tokens (model tokenizer), cacheable share and dollars
                             (naive / cached / batch+cached) for this run, then exit; sends nothing`;

const RM_HELP = `Usage: preflab rm DATASET_DIR --provider ID --out RUN_DIR [options]

In-context reward-model evaluation (paper Table 1). For every synthetic user and each pair on
its test triple (chosen = the user's golden response, rejected = each other member's), the
model sees the user's feedback history and picks [[A]] or [[B]]. Rerun the same command to
resume. Prints accuracy per dimension with 95% bootstrap CIs (random guess = 50%).

Options:
  --out DIR                  run directory (created; reused to resume)
  --dimensions d1,d2         default: all four (${DIMENSIONS.join(", ")})
  --orders both|ab           present each pair in both orders (default) or chosen-first only
  --verdict text|probability parse [[A]]/[[B]] (default), or read P(A) vs P(B) where the letter
                             is decided: after the template's verdict prefix ("[[" for B.1),
                             prefilled on llamacpp, written by the model on openai
  --min-verdict-mass P       probability verdicts: an item whose P(A) + P(B) is below P is
                             unparsable, never a guess (default ${DEFAULT_MIN_VERDICT_MASS})
  --limit N                  only the first N users (all their pairs, both orders)
  --template FILE            reward-model template (.ptpl); default: the paper's B.1
  --history-template FILE    history template (.ptpl); default: the paper's B.3
  --max-input-tokens N       input budget; the oldest history pairs are dropped to fit (default 12800)
  --oracle                   the "with preference" upper bound: the model is told the user's
                             stated preference instead of the history (template with
                             {{preference}}; default the built-in oracle B.1); labelled in reports
  --keep-non-contrastive     keep test pairs whose rejected member states the same preference on
                             the user's dimension (default: left out, and counted in the report)
  --format text|md|json      report format on stdout (default text)
${ESTIMATE_HELP}
${providerOptionsHelp()}
`;

export const rmCommand: CliCommand = {
  name: "rm",
  summary: "reward-model evaluation with feedback histories (Table 1)",
  help: RM_HELP,
  async run(argv, io) {
    const { values, positionals } = parse(argv, { ...evalCommon, orders: { type: "string" }, verdict: { type: "string" }, "keep-non-contrastive": { type: "boolean" }, "min-verdict-mass": { type: "string" }, oracle: { type: "boolean" }, ...providerOptionSpec() });
    if (positionals.length !== 1) throw new UsageError("expected one dataset directory");
    if (!values.out) throw new UsageError("--out is required");
    const format = choiceOption(values.format, "format", ["text", "md", "json"] as const, "text");
    const opts = {
      dimensions: dimensionsOption(values.dimensions) ?? [...DIMENSIONS],
      orders: choiceOption(values.orders, "orders", ["both", "ab"] as const, "both"),
      verdict: choiceOption(values.verdict, "verdict", ["text", "probability"] as const, "text"),
      limit: values.limit === undefined ? undefined : intOption(values.limit, "limit", 0, 1),
      template: values.template,
      historyTemplate: values["history-template"],
      maxInputTokens: intOption(values["max-input-tokens"], "max-input-tokens", 12_800, 1),
      keepNonContrastive: values["keep-non-contrastive"] === true,
      minVerdictMass: numberOption(values["min-verdict-mass"], "min-verdict-mass", DEFAULT_MIN_VERDICT_MASS),
      oracle: values.oracle === true,
    };
    if (!(opts.minVerdictMass >= 0 && opts.minVerdictMass <= 1)) throw new UsageError(`--min-verdict-mass must be a number in [0, 1], got ${String(values["min-verdict-mass"])}`);
    const resolved = await resolveProviderOptions(values, { needKey: values.estimate !== true });
    const runDir = path.resolve(values.out);
    if (values.estimate) return printEstimate(io, "rm", resolved, async (tokenizer) => (await planRm(positionals[0]!, { ...opts, tokenizer })).items, runDir);
    const { summary } = await runEvaluationCli("rm", { kind: "rm", datasetDir: positionals[0]!, options: opts }, resolved, runDir, io);
    io.err(formatSummary("rm", summary, resolved.config.pricing !== undefined));
    io.out(formatReport(await buildReport([runDir]), format));
    return exitCode(summary);
  },
};

const GEN_HELP = `Usage: preflab generate DATASET_DIR --provider ID --out RUN_DIR [options]

Personalized generation (paper Table 2): for every synthetic user, respond to its test
instruction given its feedback history; and, for the ablation, without it (once per
instruction). Temperature defaults to 0.9 as in the paper. Judge the run with \`preflab judge\`.

Options:
  --out DIR                  run directory (created; reused to resume)
  --history with|without|both  default both
  --dimensions d1,d2         default: ${GENERATION_DIMENSIONS.join(", ")} (the paper leaves harmlessness out)
  --include-harmlessness     add harmlessness to the default dimensions
  --limit N                  only the first N users
  --template FILE            generation template (.ptpl); default: the paper's B.2
  --plain-template bare|b2-empty|FILE
                             the prompt without history: bare (default: the instruction alone,
                             as for API models), b2-empty (the B.2 template with an empty
                             history: what a model fine-tuned on B.2 inputs expects), or a file
  --oracle                   the "with preference" upper bound: the with-history prompt states the
                             user's preference instead (built-in oracle B.2); labelled in reports
  --history-template FILE    history template; default: the paper's B.3
  --max-input-tokens N       input budget (default 12800)
${ESTIMATE_HELP}
${providerOptionsHelp()}
`;

export const generateCommand: CliCommand = {
  name: "generate",
  summary: "personalized generation with and without feedback history",
  help: GEN_HELP,
  async run(argv, io) {
    const { values, positionals } = parse(argv, {
      ...evalCommon,
      history: { type: "string" },
      "include-harmlessness": { type: "boolean" },
      "plain-template": { type: "string" },
      oracle: { type: "boolean" },
      ...providerOptionSpec(),
    });
    if (positionals.length !== 1) throw new UsageError("expected one dataset directory");
    if (!values.out) throw new UsageError("--out is required");
    const fallback = values["include-harmlessness"] ? [...GENERATION_DIMENSIONS, "harmlessness" as const] : GENERATION_DIMENSIONS;
    const resolved = await resolveProviderOptions(values, { needKey: values.estimate !== true });
    // Sampling params: the flags, else the template's front-matter defaults (the session fills them in).
    const opts = {
      dimensions: dimensionsOption(values.dimensions) ?? [...fallback],
      history: choiceOption(values.history, "history", ["with", "without", "both"] as const, "both"),
      limit: values.limit === undefined ? undefined : intOption(values.limit, "limit", 0, 1),
      template: values.template,
      plainTemplate: values["plain-template"],
      oracle: values.oracle === true,
      historyTemplate: values["history-template"],
      maxInputTokens: intOption(values["max-input-tokens"], "max-input-tokens", 12_800, 1),
    };
    const runDir = path.resolve(values.out);
    if (values.estimate) return printEstimate(io, "generate", resolved, async (tokenizer) => (await planGeneration(positionals[0]!, { ...opts, tokenizer })).items, runDir);
    const { summary } = await runEvaluationCli("generate", { kind: "generate", datasetDir: positionals[0]!, options: opts }, resolved, runDir, io);
    io.out(formatSummary("generate", summary, resolved.config.pricing !== undefined));
    return exitCode(summary);
  },
};

const JUDGE_HELP = `Usage: preflab judge GEN_RUN_DIR --judge-provider ID --out JUDGE_DIR [options]

Scores a generation run with an LLM judge against the dataset's rubrics (MultiFacet absolute
grading, 1-5, "[RESULT] N"): each response against its user's rubric, with the user's golden
response as the score-5 reference. An output without a score is asked again (bounded) and
then recorded with score null. Writes JUDGE_DIR/results.jsonl and prints Table 2.

Options:
  --out DIR                  judge directory (created; reused to resume)
  --cross                    also judge each response against the other two users' rubrics
                             (counterfactual steerability, a 3x3 matrix per instruction)
  --template FILE            judge template (.ptpl); default: the official MultiFacet judge
                             (kaistAI/Janus prompt verbatim, rubric as json.dumps(indent=4),
                             temperature 1.0, top_p 0.9, max 1024 tokens unless overridden)
  --judge-parse robust|janus read the score with the robust parser (default: last [RESULT],
                             1-5 only) or with the MultiFacet authors' pattern exactly (first match)
  --max-parse-retries N      extra judge calls for an output without a score (default 5, as Janus)
  --format text|md|json      report format on stdout (default text)
${ESTIMATE_HELP}
${providerOptionsHelp("judge-")}
`;

export const judgeCommand: CliCommand = {
  name: "judge",
  summary: "judge a generation run against the rubrics (Table 2, steerability)",
  help: JUDGE_HELP,
  async run(argv, io) {
    const { values, positionals } = parse(argv, {
      out: { type: "string" },
      cross: { type: "boolean" },
      template: { type: "string" },
      "max-parse-retries": { type: "string" },
      "judge-parse": { type: "string" },
      format: { type: "string" },
      estimate: { type: "boolean" },
      ...providerOptionSpec("judge-"),
    });
    if (positionals.length !== 1) throw new UsageError("expected one generation run directory");
    if (!values.out) throw new UsageError("--out is required");
    const format = choiceOption(values.format, "format", ["text", "md", "json"] as const, "text");
    const resolved = await resolveProviderOptions(values, { prefix: "judge-", needKey: values.estimate !== true });
    // Sampling params: the flags, over the judge template's defaults (the session and the core merge them).
    const opts = {
      cross: values.cross === true,
      template: values.template,
      maxParseRetries: intOption(values["max-parse-retries"], "max-parse-retries", JANUS_MAX_RETRIES, 0),
      parse: choiceOption(values["judge-parse"], "judge-parse", JUDGE_PARSERS, "robust"),
    };
    const runDir = path.resolve(values.out);
    if (values.estimate) return printEstimate(io, "judge", resolved, async () => (await planJudge(positionals[0]!, opts)).items, runDir);
    const outcome = await runEvaluationCli("judge", { kind: "judge", sourceRunDir: positionals[0]!, options: opts }, resolved, runDir, io);
    if (outcome.kind !== "judge") throw new Error("unreachable: a judge request gave another outcome");
    const { summary, judged } = outcome;
    io.err(formatSummary("judge", summary, resolved.config.pricing !== undefined));
    const unscored = judged.filter((j) => j.score === null).length;
    if (unscored) io.err(`judge: ${unscored} of ${judged.length} judgments have no score (see ${path.join(runDir, "results.jsonl")})\n`);
    io.out(formatReport(await buildReport([runDir]), format));
    return exitCode(summary);
  },
};

