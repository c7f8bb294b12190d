/**
 * Rendering the paper's prompts with a token budget (default 12,800 input tokens, as in the
 * paper): if a prompt does not fit, the history pairs at the front of the history (the oldest /
 * least similar ones) are dropped one by one and the number dropped is recorded on the item.
 * Counting is done by a Tokenizer (src/core/templates/tokens.ts: the model's real tokenizer where
 * one is known); the default is the chars/4 estimate.
 */
import type { HistoryEntry } from "../data/types.js";
import type { ChatMessage } from "../providers/types.js";
import type { Tokenizer } from "./tokens.js";
import { renderMessages, renderText, type Template, type Values } from "./template.js";

export const DEFAULT_MAX_INPUT_TOKENS = 12_800;

/** Counts the tokens of a text. The default is an estimate: one token per 4 characters. */
export type TokenCounter = (text: string) => number;
export const approxTokens: TokenCounter = (text) => Math.ceil(text.length / 4);

export function messagesTokens(messages: ChatMessage[], count: TokenCounter | Tokenizer = approxTokens): number {
  if (typeof count !== "function") return count.countMessages(messages);
  // A few tokens of chat formatting per message.
  return messages.reduce((n, m) => n + count(m.content) + 4, 0);
}

/** The feedback-history block: one history-template rendering per pair, oldest first, numbered from 1. */
export function renderHistory(historyTemplate: Template, history: Pick<HistoryEntry, "prompt" | "chosen" | "rejected">[]): string {
  return history
    .map((h, i) => renderText(historyTemplate, { example_id: String(i + 1), instruction: h.prompt, preferred_response: h.chosen, rejected_response: h.rejected }))
    .join("\n\n");
}

export interface BudgetedPrompt {
  messages: ChatMessage[];
  /** History pairs actually in the prompt (the newest ones). */
  kept: number;
  /** Oldest pairs dropped to fit the budget. */
  dropped: number;
  tokens: number;
  /** True when even without any history the prompt exceeds the budget. */
  overBudget: boolean;
}

/**
 * Renders `template` with `values` plus a feedback history built from `history`, dropping the
 * oldest pairs until the prompt fits `maxTokens`.
 */
export function renderWithBudget(
  template: Template,
  historyTemplate: Template,
  history: Pick<HistoryEntry, "prompt" | "chosen" | "rejected">[],
  values: Values,
  maxTokens = DEFAULT_MAX_INPUT_TOKENS,
  count: TokenCounter | Tokenizer = approxTokens,
): BudgetedPrompt {
  const usesHistory = template.placeholders.some((p) => p.name === "feedback_history");
  let dropped = 0;
  for (;;) {
    const kept = history.slice(dropped);
    const messages = renderMessages(template, usesHistory ? { ...values, feedback_history: renderHistory(historyTemplate, kept) } : values);
    const tokens = messagesTokens(messages, count);
    if (tokens <= maxTokens || !usesHistory || kept.length === 0) {
      return { messages, kept: usesHistory ? kept.length : 0, dropped, tokens, overBudget: tokens > maxTokens };
    }
    dropped++;
  }
}

/**
 * Renders several prompts of one synthetic user (the rm evaluation's rejected members x orders)
 * with one history: each drops as many of the oldest pairs as the longest of them needs, so all
 * carry the same history block, numbered alike. That block is the prompts' shared prefix, which
 * providers cache (Anthropic's cache mark, OpenAI's prompt_cache_key and longest common prefix,
 * llama.cpp sequence reuse); prompts that kept different numbers of pairs would share nothing
 * after the template's opening lines. A prompt over the budget even without history is left
 * as it is (callers skip it) and does not count towards the shared drop.
 */
export function renderWithSharedBudget(
  template: Template,
  historyTemplate: Template,
  history: Pick<HistoryEntry, "prompt" | "chosen" | "rejected">[],
  valuesList: Values[],
  maxTokens = DEFAULT_MAX_INPUT_TOKENS,
  count: TokenCounter | Tokenizer = approxTokens,
): BudgetedPrompt[] {
  const first = valuesList.map((v) => renderWithBudget(template, historyTemplate, history, v, maxTokens, count));
  const fitting = first.filter((p) => !p.overBudget);
  const drop = Math.max(0, ...fitting.map((p) => p.dropped));
  if (fitting.every((p) => p.dropped === drop)) return first;
  const rest = history.slice(drop);
  return first.map((p, i) => {
    if (p.overBudget || p.dropped === drop) return p;
    const q = renderWithBudget(template, historyTemplate, rest, valuesList[i]!, maxTokens, count);
    return { ...q, dropped: drop + q.dropped };
  });
}
