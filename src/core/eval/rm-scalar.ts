/**
 * Reward-model evaluation with a scalar reward model (paper Table 1, "Fine-Tuned LLMs": a
 * Bradley-Terry reward model served by vLLM, provider `scalar-reward`). The model scores each of a
 * user's candidate responses on the same input it was trained on by `preflab export --format rm`
 * (formats.ts: the generation template, B.2 by default, with the user's feedback history and the
 * instruction, then the response as the assistant turn); a pair is right when
 * r(chosen) > r(rejected) (a tie is wrong). Each response is scored once per user and shared by the
 * user's pairs; presentation order does not exist here, so every pair is one "ab" item.
 * The same test pairs as the verdict evaluation (non-contrastive ones left out unless kept).
 */
import { Dataset } from "../data/dataset.js";
import { DIMENSIONS } from "../data/schema.js";
import { renderHistoryPrompt, rewardConversation } from "../finetune/formats.js";
import { DEFAULT_MAX_INPUT_TOKENS } from "../templates/budget.js";
import { ESTIMATE_TOKENIZER } from "../templates/tokens.js";
import { templateOfKind } from "../templates/template.js";
import type { EvalJson } from "./plan.js";
import type { ResultLine, RunItem } from "./runner.js";
import { rmItem, rmUserPairs, type NonContrastiveCounts, type RmItem, type RmOptions, type RmPlan, type RmScoredItem } from "./rm.js";

/** The run items a scalar pair compares. */
export interface ScalarPair {
  chosenItem: string;
  rejectedItem: string;
}

export async function planScalarRm(datasetDir: string, opts: RmOptions = {}): Promise<RmPlan> {
  if (opts.oracle) throw new Error("--oracle asks a model told the user's preference; a scalar reward model takes the history input it was trained on");
  const ds = await Dataset.open(datasetDir);
  const dims = opts.dimensions ?? [...DIMENSIONS];
  const maxTokens = opts.maxInputTokens ?? DEFAULT_MAX_INPUT_TOKENS;
  const tokenizer = opts.tokenizer ?? ESTIMATE_TOKENIZER;
  // --template is the reward model's input template: a generation template (B.2 by default), as exported.
  const tpl = templateOfKind(opts.template, "generation", "generation");
  const htpl = templateOfKind(opts.historyTemplate, "history", "history");
  const items: RunItem[] = [];
  const meta: (RmItem & { scalar: ScalarPair })[] = [];
  const overBudget: string[] = [];
  const nonContrastive: NonContrastiveCounts = { policy: opts.keepNonContrastive ? "keep" : "exclude", total: 0, byDimension: {}, pairs: [] };
  for await (const { user: u, triple: t, rejected } of rmUserPairs(ds, opts, nonContrastive)) {
    const p = renderHistoryPrompt(u.history, t.prompt, tpl, htpl, maxTokens, tokenizer);
    const scored = new Set<number>();
    const response = (m: number): string => {
      const id = `${u.id}.r${m}`;
      if (!scored.has(m)) {
        scored.add(m);
        items.push({ id, userKey: u.id, request: { messages: rewardConversation(p.messages, t.members[m]!.response), sequenceKey: u.id } });
      }
      return id;
    };
    for (const { member: k, contrastive } of rejected) {
      const itemId = `${u.id}.vs${k}`;
      if (p.overBudget) {
        overBudget.push(itemId);
        continue;
      }
      meta.push({ ...rmItem(u, itemId, k, "ab", contrastive, p), scalar: { chosenItem: response(u.member), rejectedItem: response(k) } });
    }
  }
  const evalJson: EvalJson = {
    kind: "rm",
    options: { dimensions: dims, orders: "ab", verdict: "text", limit: opts.limit ?? null, maxInputTokens: maxTokens, keepNonContrastive: opts.keepNonContrastive ?? false, oracle: false, scoring: "scalar" },
    tokenizer: { name: tokenizer.name, exact: tokenizer.exact },
    dataset: { dir: ds.dir, manifestHash: ds.manifestHash, seed: ds.manifest.seed },
    templates: { generation: { name: tpl.name, hash: tpl.hash, file: tpl.file }, history: { name: htpl.name, hash: htpl.hash, file: htpl.file } },
    items: items.length,
    overBudget,
    nonContrastive,
    protocol: { rmScoring: "scalar", rmInput: "export --format rm (generation template + history, response as the assistant turn)", contrastFilter: nonContrastive.policy, nonContrastivePairs: nonContrastive.total, oracle: false },
  };
  if (ds.manifest.nonContrastive !== undefined) evalJson.datasetNonContrastive = ds.manifest.nonContrastive;
  return { items, meta, evalJson };
}

function rewardOf(r: ResultLine | undefined): number | null | undefined {
  if (!r) return undefined;
  if (r.error || r.text === null) return null;
  const v = Number(r.text);
  return Number.isFinite(v) ? v : null;
}

/** A scalar pair: right when r(chosen) > r(rejected); failed when either score failed, missing when not run. */
export function scoreScalarPair(m: RmItem & { scalar: ScalarPair }, results: Map<string, ResultLine>): RmScoredItem {
  const rc = rewardOf(results.get(m.scalar.chosenItem));
  const rr = rewardOf(results.get(m.scalar.rejectedItem));
  if (rc === undefined || rr === undefined) return { ...m, verdict: null, correct: null, status: rc === null || rr === null ? "failed" : "missing" };
  if (rc === null || rr === null) return { ...m, verdict: null, correct: null, status: "failed" };
  const correct = rc > rr;
  return { ...m, verdict: correct ? "A" : "B", correct, status: "ok", rewardChosen: rc, rewardRejected: rr };
}
