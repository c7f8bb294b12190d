/**
 * Personalized generation (paper section 4.2, Table 2): for every synthetic user, respond to the
 * test instruction given the user's feedback history ("with H"), and without it ("without H",
 * the ablation). Without H the prompt is the instruction alone, the same for every user of a
 * triple, so it is generated once per triple and judged against each user's rubric.
 * Harmlessness is left out by default, as in the paper.
 */
import { Dataset } from "../data/dataset.js";
import type { Dimension } from "../data/schema.js";
import type { SyntheticUser, Triple } from "../data/types.js";
import type { GenerationParams, Provider } from "../providers/types.js";
import { DEFAULT_MAX_INPUT_TOKENS, renderWithBudget } from "../templates/budget.js";
import { samplingRecord } from "../providers/sampling.js";
import { ESTIMATE_TOKENIZER, tokenizerFor, type Tokenizer } from "../templates/tokens.js";
import { renderMessages, templateOfKind } from "../templates/template.js";
import { evalRunMeta, prepareEvalDir, type EvalJson } from "./plan.js";
import { runBatch, type RunItem, type RunnerOptions, type RunSummary } from "./runner.js";

export type HistoryChoice = "with" | "without" | "both";

/** Dimensions generation personalizes by default (the paper leaves harmlessness out). */
export const GENERATION_DIMENSIONS: Dimension[] = ["style", "background_knowledge", "informativeness"];

export interface GenerateOptions {
  dimensions?: Dimension[];
  history?: HistoryChoice;
  /** The first N synthetic users (after the dimension filter). */
  limit?: number;
  template?: string;
  plainTemplate?: string;
  historyTemplate?: string;
  maxInputTokens?: number;
  /**
   * Sampling parameters for every request. Without a temperature each provider samples at the
   * paper's setting for it (src/core/providers/sampling.ts): OpenAI at the API default, open models
   * at 0.9.
   */
  params?: GenerationParams;
  /** Counts the input budget; runGeneration uses the provider's (tokenizerFor), planGeneration alone the chars/4 estimate. */
  tokenizer?: Tokenizer;
}

export interface GenItem {
  itemId: string;
  withHistory: boolean;
  tripleId: string;
  /** With H: the user, its member and dimension. Without H: null (one response per triple). */
  userId: string | null;
  member: number | null;
  dimension: Dimension | null;
  historyKept: number;
  /** History pairs dropped (least similar first) to fit the input budget. */
  historyDropped: number;
  /** Prompt tokens as counted by the run's tokenizer (eval.json `tokenizer`). */
  promptTokens: number;
}

export interface GenPlan {
  items: RunItem[];
  meta: GenItem[];
  evalJson: EvalJson;
}

/** The users an evaluation covers: those of the given dimensions, the first `limit` of them. */
export async function* selectUsers(ds: Dataset, dims: readonly Dimension[], limit?: number | null): AsyncGenerator<SyntheticUser> {
  let n = 0;
  for await (const u of ds.users()) {
    if (!dims.includes(u.dimension)) continue;
    if (limit !== undefined && limit !== null && n >= limit) return;
    n++;
    yield u;
  }
}

export async function planGeneration(datasetDir: string, opts: GenerateOptions = {}): Promise<GenPlan> {
  const ds = await Dataset.open(datasetDir);
  const dims = opts.dimensions ?? GENERATION_DIMENSIONS;
  const which = opts.history ?? "both";
  const maxTokens = opts.maxInputTokens ?? DEFAULT_MAX_INPUT_TOKENS;
  const tokenizer = opts.tokenizer ?? ESTIMATE_TOKENIZER;
  const params: GenerationParams = { ...opts.params };
  const tpl = templateOfKind(opts.template, "generation", "generation");
  const plain = templateOfKind(opts.plainTemplate, "generation", "generation-plain");
  const htpl = templateOfKind(opts.historyTemplate, "history", "history");
  const triples = new Map<string, Triple>();
  for await (const t of ds.triples()) triples.set(t.id, t);

  const items: RunItem[] = [];
  const meta: GenItem[] = [];
  const overBudget: string[] = [];
  const noHistoryFor = new Set<string>();
  for await (const u of selectUsers(ds, dims, opts.limit)) {
    const t = triples.get(u.tripleId);
    if (!t) throw new Error(`${ds.dir}: user ${u.id} refers to missing triple ${u.tripleId}`);
    if (which !== "without") {
      const itemId = `${u.id}.h`;
      const p = renderWithBudget(tpl, htpl, u.history, { instruction: t.prompt }, maxTokens, tokenizer);
      if (p.overBudget) overBudget.push(itemId);
      else {
        items.push({ id: itemId, request: { messages: p.messages, params, sequenceKey: u.id }, userKey: u.id });
        meta.push({ itemId, withHistory: true, tripleId: t.id, userId: u.id, member: u.member, dimension: u.dimension, historyKept: p.kept, historyDropped: p.dropped, promptTokens: p.tokens });
      }
    }
    if (which !== "with" && !noHistoryFor.has(t.id)) {
      noHistoryFor.add(t.id);
      const itemId = `${t.id}.noh`;
      const messages = renderMessages(plain, { instruction: t.prompt });
      items.push({ id: itemId, request: { messages, params } });
      meta.push({ itemId, withHistory: false, tripleId: t.id, userId: null, member: null, dimension: null, historyKept: 0, historyDropped: 0, promptTokens: tokenizer.countMessages(messages) });
    }
  }
  const evalJson: EvalJson = {
    kind: "generate",
    options: { dimensions: dims, history: which, limit: opts.limit ?? null, maxInputTokens: maxTokens, params },
    tokenizer: { name: tokenizer.name, exact: tokenizer.exact },
    dataset: { dir: ds.dir, manifestHash: ds.manifestHash, seed: ds.manifest.seed },
    templates: {
      generation: { name: tpl.name, hash: tpl.hash, file: tpl.file },
      "generation-plain": { name: plain.name, hash: plain.hash, file: plain.file },
      history: { name: htpl.name, hash: htpl.hash, file: htpl.file },
    },
    items: items.length,
    overBudget,
  };
  return { items, meta, evalJson };
}

export async function runGeneration(datasetDir: string, opts: GenerateOptions, provider: Provider, runner: RunnerOptions): Promise<RunSummary> {
  const plan = await planGeneration(datasetDir, { ...opts, tokenizer: opts.tokenizer ?? (await tokenizerFor(provider)) });
  const sampling = samplingRecord(provider.id, (plan.evalJson.options.params as GenerationParams).temperature ?? runner.meta.params?.temperature);
  plan.evalJson.protocol = { ...(plan.evalJson.protocol ?? {}), sampling };
  await prepareEvalDir(runner.runDir, plan.evalJson, plan.meta);
  return runBatch(plan.items, provider, {
    ...runner,
    meta: evalRunMeta(runner.meta, plan.evalJson),
  });
}

