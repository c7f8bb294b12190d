/**
 * `preflab run-prompts`: send a JSONL file of chat prompts through a provider with the batch
 * runner, into a resumable run directory.
 */
import path from "node:path";
import { parse, UsageError, type CliCommand, type CliIO } from "../command.js";
import { providerOptionSpec, providerOptionsHelp, resolveProviderOptions } from "../provider-options.js";
import { InputError } from "../../app/prompts.js";
import { exitCode, formatSummary, runEvaluationCli } from "../batch.js";

const HELP = `Usage: preflab run-prompts --input prompts.jsonl --out RUN_DIR --provider ID [options]

Sends every prompt in a JSONL file to a model and records the answers in RUN_DIR
(results.jsonl, one line per finished prompt, and run.json). Rerunning the same command
resumes: finished prompts are skipped, failed ones are tried again.

Each input line: {"id": "...", "messages": [{"role": "system|user|assistant", "content": "..."}],
                  "params"?: {"temperature", "maxTokens", "topP", "seed", "stop"},
                  "userKey"?: "...", "probabilities"?: {"candidates": ["A", "B"]}, "sample"?: N}

Options:
  --input FILE          prompts (JSONL)
  --out DIR             run directory (created; reused to resume)
${providerOptionsHelp()}

Exit status: 0 all prompts answered, 1 some failed (see results.jsonl), 2 usage error,
130 cancelled (Ctrl-C; rerun to resume).
`;

export const runPromptsCommand: CliCommand = {
  name: "run-prompts",
  summary: "Send a JSONL file of chat prompts to a model (resumable batch run)",
  help: HELP,
  async run(argv: string[], io: CliIO): Promise<number> {
    const { values } = parse(argv, { input: { type: "string" }, out: { type: "string" }, ...providerOptionSpec() }, false);
    const input = typeof values.input === "string" ? values.input : undefined;
    const out = typeof values.out === "string" ? values.out : undefined;
    if (!input) throw new UsageError("--input is required");
    if (!out) throw new UsageError("--out is required");
    const resolved = await resolveProviderOptions(values, {});
    let summary;
    try {
      ({ summary } = await runEvaluationCli("run-prompts", { kind: "prompts", input }, resolved, path.resolve(out), io));
    } catch (e) {
      if (!(e instanceof InputError)) throw e;
      for (const p of e.problems) io.err(`preflab run-prompts: ${p}\n`);
      io.err("preflab run-prompts: nothing was written\n");
      return 1;
    }
    io.out(formatSummary("run-prompts", summary, resolved.config.pricing !== undefined));
    return exitCode(summary);
  },
};
