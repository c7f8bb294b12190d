/** `preflab export`: fine-tuning data (SFT, DPO, reward-model pairs) for OpenAI or TRL. */
import path from "node:path";
import { exportFinetuneData, formatExportReport } from "../../core/finetune/export.js";
import { EXPORT_FORMATS, EXPORT_TARGETS } from "../../core/finetune/formats.js";
import { openAIEncodingFor, tokenizerFor, type Tokenizer } from "../../core/templates/tokens.js";
import { choiceOption, parse, UsageError, type CliCommand } from "../command.js";
import { exampleOptions, exampleSpec, EXAMPLE_HELP } from "./example-options.js";

const EXPORT_HELP = `Usage: preflab export DATASET_DIR --format sft|dpo|rm --target openai|trl --out DIR [options]

Exports fine-tuning data from a built dataset's train pairs (paper section 4 / Appendix A):
  sft  openai: {"messages": [...]}            trl: {"messages": [...]}
  dpo  openai: {"input": {"messages"}, "preferred_output", "non_preferred_output"}
       trl:    {"prompt", "chosen", "rejected"} (conversational)
  rm   trl:    {"chosen", "rejected"} with the prompt inside each (RewardTrainer, Bradley-Terry)
DIR gets train.jsonl, examples.jsonl (ids, part, history kept/dropped, tokens per line) and
export.json (counts, history pairs dropped by the budget, examples over budget). Written atomically.

Options:
  --format sft|dpo|rm        what to export (required)
  --target openai|trl        line format (required; rm is trl only)
  --out DIR                  output folder (required)
  --part a|b|all             default: a for sft and rm, b for dpo
  --keep-from RS_DIR         only the examples \`preflab rs\` kept there (same example options)
  --tokenizer SPEC           count the --max-input-tokens budget with the base model's tokenizer:
                             gguf:PATH (any GGUF of it: its vocabulary) or openai:MODEL
                             (tiktoken); default an estimate of 4 characters per token
  --force                    replace DIR if it exists
  --json                     print export.json
${EXAMPLE_HELP}
`;

/** `--tokenizer gguf:PATH | openai:MODEL`. */
async function tokenizerOption(spec: string | undefined): Promise<Tokenizer | undefined> {
  if (spec === undefined) return undefined;
  const m = /^(gguf|openai):(.+)$/.exec(spec);
  if (!m) throw new UsageError(`--tokenizer must be gguf:PATH or openai:MODEL, got "${spec}"`);
  if (m[1] === "gguf") return tokenizerFor({ provider: "llamacpp", modelPath: path.resolve(m[2]!) });
  if (!openAIEncodingFor(m[2]!)) throw new UsageError(`--tokenizer openai:${m[2]}: not an OpenAI model name whose encoding is known (gpt-4o, gpt-4.1, gpt-4, gpt-3.5, o-series...)`);
  return tokenizerFor({ provider: "openai", model: m[2]! });
}

export const exportCommand: CliCommand = {
  name: "export",
  summary: "fine-tuning data (SFT / DPO / reward model) with feedback histories",
  help: EXPORT_HELP,
  async run(argv, io) {
    const { values, positionals } = parse(argv, { ...exampleSpec, format: { type: "string" }, target: { type: "string" }, "keep-from": { type: "string" }, tokenizer: { type: "string" }, force: { type: "boolean" } });
    if (positionals.length !== 1) throw new UsageError("expected one dataset directory");
    if (!values.format) throw new UsageError(`--format is required (${EXPORT_FORMATS.join(", ")})`);
    if (!values.target) throw new UsageError(`--target is required (${EXPORT_TARGETS.join(", ")})`);
    if (!values.out) throw new UsageError("--out is required");
    const format = choiceOption(values.format, "format", EXPORT_FORMATS, "sft");
    const target = choiceOption(values.target, "target", EXPORT_TARGETS, "trl");
    if (format === "rm" && target === "openai") throw new UsageError("--format rm needs --target trl (OpenAI fine-tuning has no reward-model method)");
    const part = values.part === undefined ? undefined : choiceOption(values.part, "part", ["a", "b", "all"] as const, "all");
    const out = path.resolve(values.out);
    const tokenizer = await tokenizerOption(values.tokenizer);
    const report = await exportFinetuneData(positionals[0]!, {
      ...exampleOptions(values),
      part,
      format,
      target,
      out,
      keepFrom: values["keep-from"],
      ...(tokenizer ? { tokenizer } : {}),
      force: values.force === true,
    });
    io.out(values.json ? JSON.stringify(report, null, 2) + "\n" : formatExportReport(report, out));
    return 0;
  },
};

