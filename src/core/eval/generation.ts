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
import { checkOracleTemplate, preferenceText } from "./oracle.js";
import { evalRunMeta, prepareEvalDir, type EvalJson } from "./plan.js";
import { runBatch, type RunItem, type RunnerOptions, type RunSummary } from "./runner.js";

export type HistoryChoice = "with" | "without" | "both";

/** How the without-history prompt is made (recorded per run): see GenerateOptions.plainTemplate. */
export type PlainChoice = "bare" | "b2-empty" | "file";
export const PLAIN_CHOICES = ["bare", "b2-empty"] as const;

/** Dimensions generation personalizes by default (the paper leaves harmlessness out). */
export const GENERATION_DIMENSIONS: Dimension[] = ["style", "background_knowledge", "informativeness"];

export interface GenerateOptions {
  dimensions?: Dimension[];
  history?: HistoryChoice;
  /** The first N synthetic users (after the dimension filter). */
  limit?: number;
  template?: string;
  /**
   * The prompt without history: `bare` (default: the instruction alone, as API models get it),
   * `b2-empty` (the with-history template, B.2, with an empty feedback history: the input shape a
   * model fine-tuned on B.2 inputs was trained on), or a template file.
   */
  plainTemplate?: string;
  /** The "with preference" upper bound: the personalized prompt states the user's preference ({{preference}}; built-in: generation-oracle). */
  oracle?: boolean;
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
  const oracle = opts.oracle ?? false;
  const tpl = templateOfKind(opts.template, "generation", oracle ? "generation-oracle" : "generation");
  checkOracleTemplate(tpl, oracle);
  const plainChoice: PlainChoice = opts.plainTemplate === undefined || opts.plainTemplate === "bare" ? "bare" : opts.plainTemplate === "b2-empty" ? "b2-empty" : "file";
  // b2-empty renders the history template of the run (B.2 unless --template) with no examples.
  const plainBase = plainChoice === "b2-empty" ? templateOfKind(undefined, "generation", "generation") : undefined;
  const plain = plainChoice === "b2-empty" ? (oracle ? plainBase! : tpl) : templateOfKind(plainChoice === "file" ? opts.plainTemplate : undefined, "generation", "generation-plain");
  if (plainChoice === "b2-empty" && !plain.placeholders.some((x) => x.name === "feedback_history")) throw new Error(`--plain-template b2-empty needs a generation template with {{feedback_history}}; ${plain.file} has none`);
  checkOracleTemplate(plain, false);
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
      const p = renderWithBudget(tpl, htpl, u.history, { instruction: t.prompt, ...(oracle ? { preference: preferenceText(u.preference) } : {}) }, maxTokens, tokenizer);
      if (p.overBudget) overBudget.push(itemId);
      else {
        items.push({ id: itemId, request: { messages: p.messages, params, sequenceKey: u.id }, userKey: u.id });
        meta.push({ itemId, withHistory: true, tripleId: t.id, userId: u.id, member: u.member, dimension: u.dimension, historyKept: p.kept, historyDropped: p.dropped, promptTokens: p.tokens });
      }
    }
    if (which !== "with" && !noHistoryFor.has(t.id)) {
      noHistoryFor.add(t.id);
      const itemId = `${t.id}.noh`;
      const messages = renderMessages(plain, plainChoice === "b2-empty" ? { instruction: t.prompt, feedback_history: "" } : { instruction: t.prompt });
      items.push({ id: itemId, request: { messages, params } });
      meta.push({ itemId, withHistory: false, tripleId: t.id, userId: null, member: null, dimension: null, historyKept: 0, historyDropped: 0, promptTokens: tokenizer.countMessages(messages) });
    }
  }
  const evalJson: EvalJson = {
    kind: "generate",
    options: { dimensions: dims, history: which, limit: opts.limit ?? null, maxInputTokens: maxTokens, params, plainTemplate: plainChoice, oracle },
    protocol: { plainTemplate: plainChoice, oracle },
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
  if (provider.capabilities.scalarReward) throw new Error(`provider "${provider.id}" is a scalar reward model: it scores responses, it cannot write them`);
  const plan = await planGeneration(datasetDir, { ...opts, tokenizer: opts.tokenizer ?? (await tokenizerFor(provider)) });
  const sampling = samplingRecord(provider.id, (plan.evalJson.options.params as GenerationParams).temperature ?? runner.meta.params?.temperature);
  plan.evalJson.protocol = { ...(plan.evalJson.protocol ?? {}), sampling, ...(plan.evalJson.tokenizer ? { tokenizer: plan.evalJson.tokenizer } : {}) };
  await prepareEvalDir(runner.runDir, plan.evalJson, plan.meta);
  return runBatch(plan.items, provider, {
    ...runner,
    meta: evalRunMeta(runner.meta, plan.evalJson),
  });
}

