/**
 * Training-line formats:
 *
 *   OpenAI SFT   {"messages": [...prompt, {"role": "assistant", "content": chosen}]}
 *   OpenAI DPO   {"input": {"messages": [...prompt]},
 *                 "preferred_output": [{"role": "assistant", "content": chosen}],
 *                 "non_preferred_output": [{"role": "assistant", "content": rejected}]}
 *   TRL SFT      {"messages": [...prompt, assistant chosen]}                 (conversational language modeling)
 *   TRL DPO      {"prompt": [...prompt], "chosen": [assistant chosen], "rejected": [assistant rejected]}
 *                                                                            (conversational preference, explicit prompt)
 *   TRL RM       {"chosen": [...prompt, assistant chosen], "rejected": [...prompt, assistant rejected]}
 *                                                                            (conversational preference, implicit prompt: Bradley-Terry)
 *
 * The prompt is the generation template (the paper's B.2 by default) rendered with the example's
 * feedback history and instruction, with the evaluation's token budget (renderWithBudget: the
 * oldest history pairs are dropped until the prompt fits the max input tokens).
 * Lines hold nothing else (OpenAI rejects unknown keys); ids and budget facts go to examples.jsonl.
 */
import type { ChatMessage, Role } from "../providers/types.js";
import { approxTokens, renderWithBudget, type TokenCounter } from "../templates/budget.js";
import type { Template } from "../templates/template.js";
import type { TrainExample } from "./examples.js";
import type { HistoryEntry } from "../data/types.js";
import type { Tokenizer } from "../templates/tokens.js";

export type ExportFormat = "sft" | "dpo" | "rm";
export type ExportTarget = "openai" | "trl";
export const EXPORT_FORMATS: readonly ExportFormat[] = ["sft", "dpo", "rm"];
export const EXPORT_TARGETS: readonly ExportTarget[] = ["openai", "trl"];

export interface WireMessage {
  role: Role;
  content: string;
}

export interface RenderedPrompt {
  messages: WireMessage[];
  historyKept: number;
  historyDropped: number;
  promptTokens: number;
  overBudget: boolean;
}

const wire = (m: ChatMessage): WireMessage => ({ role: m.role, content: m.content });

/** The example's prompt (history + instruction) under the evaluation's budget rule. */
export function renderExamplePrompt(ex: TrainExample, template: Template, historyTemplate: Template, maxInputTokens: number, count: TokenCounter | Tokenizer = approxTokens): RenderedPrompt {
  return renderHistoryPrompt(ex.history, ex.prompt, template, historyTemplate, maxInputTokens, count);
}

/**
 * A personalized prompt (the generation template, the paper's B.2 by default: feedback history +
 * instruction) under the budget rule. The one rendering behind every reward-model input: the
 * training lines of `export --format rm`, and what `rs` and `rm` send a served scalar reward model.
 */
export function renderHistoryPrompt(
  history: Pick<HistoryEntry, "prompt" | "chosen" | "rejected">[],
  instruction: string,
  template: Template,
  historyTemplate: Template,
  maxInputTokens: number,
  count: TokenCounter | Tokenizer = approxTokens,
): RenderedPrompt {
  const p = renderWithBudget(template, historyTemplate, history, { instruction }, maxInputTokens, count);
  return { messages: p.messages.map(wire), historyKept: p.kept, historyDropped: p.dropped, promptTokens: p.tokens, overBudget: p.overBudget };
}

/** A reward model's input for one response: the prompt, then the response as the assistant turn (TRL RewardTrainer's conversational pairs). */
export function rewardConversation(prompt: WireMessage[], response: string): WireMessage[] {
  return [...prompt, { role: "assistant", content: response }];
}

export function checkFormatTarget(format: ExportFormat, target: ExportTarget): void {
  if (format === "rm" && target === "openai") {
    throw new Error("OpenAI fine-tuning has no reward-model method: export reward-model pairs with --target trl (TRL RewardTrainer)");
  }
}

const assistant = (content: string): WireMessage => ({ role: "assistant", content });

/** One training line (an object to JSON.stringify). */
export function trainingLine(format: ExportFormat, target: ExportTarget, prompt: WireMessage[], chosen: string, rejected: string): Record<string, unknown> {
  checkFormatTarget(format, target);
  switch (format) {
    case "sft":
      return { messages: [...prompt, assistant(chosen)] };
    case "dpo":
      return target === "openai"
        ? { input: { messages: prompt }, preferred_output: [assistant(chosen)], non_preferred_output: [assistant(rejected)] }
        : { prompt, chosen: [assistant(chosen)], rejected: [assistant(rejected)] };
    case "rm":
      return { chosen: rewardConversation(prompt, chosen), rejected: rewardConversation(prompt, rejected) };
  }
}

/**
 * Guesses the format and target of a training line (used by launchers to refuse a file that does
 * not fit the chosen backend); null when the line is none of the formats above.
 */
export function detectLineFormat(line: unknown): { format: ExportFormat; target: ExportTarget | "any" } | null {
  if (!line || typeof line !== "object") return null;
  const o = line as Record<string, unknown>;
  const isMsgs = (v: unknown) => Array.isArray(v) && v.every((m) => m && typeof m === "object" && typeof (m as WireMessage).role === "string" && typeof (m as WireMessage).content === "string");
  if (o.input && typeof o.input === "object" && isMsgs((o.input as Record<string, unknown>).messages) && isMsgs(o.preferred_output) && isMsgs(o.non_preferred_output)) return { format: "dpo", target: "openai" };
  if (isMsgs(o.prompt) && isMsgs(o.chosen) && isMsgs(o.rejected)) return { format: "dpo", target: "trl" };
  if (o.prompt === undefined && isMsgs(o.chosen) && isMsgs(o.rejected)) return { format: "rm", target: "trl" };
  if (isMsgs(o.messages)) return { format: "sft", target: "any" };
  return null;
}
