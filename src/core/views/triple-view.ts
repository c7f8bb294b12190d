/**
 * Builds the view model of the counterfactual-triple webview (src/protocol/webview.ts) from a built
 * dataset directory and any number of run directories (reward-model, generation and judge runs).
 * Pure Node: no vscode, no DOM. The dataset is read through the core reader (one triple and its
 * users by byte offset); `TripleViewLoader` caches what it read (triple list, search texts, run
 * items and results, keyed by file mtime) so that stepping through triples in the panel stays fast;
 * `loadTripleView` / `listTripleIds` / `searchTriples` are one-shot helpers over it.
 */
import { stat } from "node:fs/promises";
import * as path from "node:path";
import { Dataset } from "../data/dataset.js";
import { DIMENSIONS } from "../data/schema.js";
import { DATASET_FILES, type SyntheticUser } from "../data/types.js";
import { EVAL_FILE, ITEMS_FILE, readEvalJson, readItems, type EvalJson } from "../eval/plan.js";
import { readResults, readRunJson, type ResultLine, type RunJson } from "../eval/runner.js";
import { scoreItems, type RmItem, type VerdictMode } from "../eval/rm.js";
import { CALLS_DIR, JUDGED_FILE, readJudged, type JudgeItem, type JudgeResultLine } from "../eval/judge.js";
import type { GenItem } from "../eval/generation.js";
import type {
  GenerationOutput,
  RunOutputsView,
  RunRef,
  TripleSearchHit,
  TripleViewModel,
  UserRunOutputs,
  UserView,
} from "../../protocol/webview.js";

async function mtime(file: string): Promise<number> {
  try {
    return (await stat(file)).mtimeMs;
  } catch {
    return -1;
  }
}

/** Lowercased, whitespace-collapsed text for search. */
const norm = (s: string) => s.toLowerCase().replace(/\s+/g, " ").trim();

interface TripleIndexEntry {
  id: string;
  prompt: string;
  search: string;
}

interface DatasetCache {
  key: string;
  ds: Dataset;
  /** Test triple ids in dataset order (from the reader's index). */
  ids: string[];
  /** Id and instruction of every test triple for search, read on the first search. */
  search?: Promise<TripleIndexEntry[]>;
}

interface RunData {
  key: string;
  run: RunRef;
  ev: EvalJson;
  /** rm */
  rmItems?: RmItem[];
  /** generate, or the judged generation run of a judge run */
  genItems?: GenItem[];
  genResults?: Map<string, ResultLine>;
  results?: Map<string, ResultLine>;
  judgeItems?: JudgeItem[];
  judged?: Map<string, JudgeResultLine>;
}

function runRef(dir: string, ev: EvalJson, rj: RunJson | undefined, source?: RunRef["source"]): RunRef {
  const ref: RunRef = {
    dir: path.resolve(dir),
    label: path.basename(path.resolve(dir)),
    kind: ev.kind,
    provider: rj?.provider ?? null,
    model: rj?.model ?? null,
    status: rj?.status ?? "not started",
  };
  if (source) ref.source = source;
  return ref;
}

function genOutput(itemId: string, r: ResultLine | undefined): GenerationOutput {
  if (!r) return { itemId, text: null, error: "not generated yet" };
  const out: GenerationOutput = { itemId, text: r.text };
  if (r.error) out.error = `${r.error.kind}: ${r.error.message}`;
  else if (r.text === null) out.error = "no output";
  return out;
}

export class TripleViewLoader {
  private datasets = new Map<string, DatasetCache>();
  private runs = new Map<string, RunData>();

  private async dataset(dir: string): Promise<DatasetCache> {
    const abs = path.resolve(dir);
    const key = [DATASET_FILES.manifest, DATASET_FILES.triples, DATASET_FILES.users].map((f) => mtime(path.join(abs, f)));
    const keyText = (await Promise.all(key)).join(":");
    const hit = this.datasets.get(abs);
    if (hit && hit.key === keyText) return hit;
    const ds = await Dataset.open(abs);
    const entry: DatasetCache = { key: keyText, ds, ids: await ds.tripleIds() };
    this.datasets.set(abs, entry);
    return entry;
  }

  /** Every triple id in dataset order; with `query`, those whose id or instruction contains it (case-insensitive). */
  async listTripleIds(datasetDir: string, query?: string): Promise<string[]> {
    if (!norm(query ?? "")) return [...(await this.dataset(datasetDir)).ids];
    return (await this.search(datasetDir, query)).map((e) => e.id);
  }

  /** Search hits (id + instruction shortened to `promptChars`), the first `limit`, and how many matched. */
  async searchTriples(datasetDir: string, query: string, limit = 50, promptChars = 200): Promise<{ hits: TripleSearchHit[]; total: number }> {
    const all = await this.search(datasetDir, query);
    const hits = all.slice(0, limit).map((e) => ({ id: e.id, prompt: e.prompt.length > promptChars ? `${e.prompt.slice(0, promptChars - 1)}…` : e.prompt }));
    return { hits, total: all.length };
  }

  private async search(datasetDir: string, query?: string): Promise<TripleIndexEntry[]> {
    const cache = await this.dataset(datasetDir);
    cache.search ??= (async () => {
      const entries: TripleIndexEntry[] = [];
      for await (const t of cache.ds.triples()) entries.push({ id: t.id, prompt: t.prompt, search: norm(`${t.id} ${t.prompt}`) });
      return entries;
    })();
    let index: TripleIndexEntry[];
    try {
      index = await cache.search;
    } catch (e) {
      cache.search = undefined;
      throw e;
    }
    const q = norm(query ?? "");
    if (!q) return index;
    // An exact id first, then the rest in dataset order.
    const exact = index.filter((e) => e.id.toLowerCase() === q);
    return [...exact, ...index.filter((e) => e.id.toLowerCase() !== q && e.search.includes(q))];
  }

  private async run(dir: string): Promise<RunData> {
    const abs = path.resolve(dir);
    const ev = await readEvalJson(abs);
    const filesFor = (d: string) => [path.join(d, EVAL_FILE), path.join(d, ITEMS_FILE), path.join(d, "results.jsonl"), path.join(d, "run.json")];
    const files = ev.kind === "judge" ? [...filesFor(abs), ...filesFor(path.join(abs, CALLS_DIR)).slice(2), path.join(abs, JUDGED_FILE)] : filesFor(abs);
    if (ev.kind === "judge" && ev.source) files.push(...filesFor(ev.source.runDir));
    const key = (await Promise.all(files.map(mtime))).join(":");
    const hit = this.runs.get(abs);
    if (hit && hit.key === key) return hit;

    let data: RunData;
    if (ev.kind === "rm") {
      data = { key, ev, run: runRef(abs, ev, await readRunJson(abs)), rmItems: await readItems<RmItem>(abs), results: await readResults(abs) };
    } else if (ev.kind === "generate") {
      data = { key, ev, run: runRef(abs, ev, await readRunJson(abs)), genItems: await readItems<GenItem>(abs), genResults: await readResults(abs) };
    } else if (ev.kind === "judge") {
      const src = ev.source?.runDir;
      const srcRun = src ? await readRunJson(src).catch(() => undefined) : undefined;
      const source = src ? { runDir: src, provider: srcRun?.provider ?? null, model: srcRun?.model ?? null } : undefined;
      data = {
        key,
        ev,
        run: runRef(abs, ev, await readRunJson(path.join(abs, CALLS_DIR)), source),
        judgeItems: await readItems<JudgeItem>(abs),
        judged: new Map((await readJudged(abs)).map((l) => [l.itemId, l])),
      };
      if (src) {
        try {
          data.genItems = await readItems<GenItem>(src);
          data.genResults = await readResults(src);
        } catch {
          // The judged generation run moved or was deleted: scores still show, texts do not.
        }
      }
    } else {
      data = { key, ev, run: runRef(abs, ev, await readRunJson(abs)) };
    }
    this.runs.set(abs, data);
    return data;
  }

  private outputsFor(data: RunData, tripleId: string, users: SyntheticUser[]): RunOutputsView {
    const view: RunOutputsView = { run: data.run, users: {} };
    const byId = new Map(users.map((u) => [u.id, u]));
    const slot = (userId: string): UserRunOutputs | undefined => {
      const existing = view.users[userId];
      if (existing) return existing;
      const u = byId.get(userId);
      if (!u) return undefined;
      return (view.users[userId] = { userId, member: u.member, dimension: u.dimension });
    };
    if (data.rmItems && data.results) {
      const meta = data.rmItems.filter((m) => m.tripleId === tripleId);
      const scored = scoreItems(meta, data.results, (data.ev.options.verdict as VerdictMode | undefined) ?? "text");
      for (const s of scored) {
        const o = slot(s.userId);
        if (!o) continue;
        const r = data.results.get(s.itemId);
        const v: NonNullable<UserRunOutputs["rm"]>[number] = {
          itemId: s.itemId,
          rejectedMember: s.rejectedMember,
          order: s.order,
          chosen: s.chosen,
          verdict: s.verdict,
          correct: s.correct,
          status: s.status,
          raw: r?.text ?? null,
        };
        if (s.pA !== undefined) v.pA = s.pA;
        if (r?.error) v.error = `${r.error.kind}: ${r.error.message}`;
        (o.rm ??= []).push(v);
      }
      for (const o of Object.values(view.users)) o.rm?.sort((a, b) => a.rejectedMember - b.rejectedMember || a.order.localeCompare(b.order));
    }
    if (data.genItems && data.genResults) {
      for (const g of data.genItems) {
        if (g.tripleId !== tripleId) continue;
        if (!g.withHistory) view.withoutHistory = genOutput(g.itemId, data.genResults.get(g.itemId));
        else if (g.userId) {
          const o = slot(g.userId);
          if (o) o.withHistory = genOutput(g.itemId, data.genResults.get(g.itemId));
        }
      }
    }
    if (data.judgeItems && data.judged) {
      for (const m of data.judgeItems) {
        if (m.tripleId !== tripleId) continue;
        const o = slot(m.userId);
        if (!o) continue;
        const l = data.judged.get(m.itemId);
        const s: NonNullable<UserRunOutputs["judge"]>[number] = {
          itemId: m.itemId,
          withHistory: m.withHistory,
          rubricMember: m.rubricMember,
          score: l?.score ?? null,
          feedback: l?.feedback ?? null,
          raw: l?.raw ?? null,
          calls: l?.calls ?? 0,
        };
        if (!l) s.error = "not judged yet";
        else if (l.error) s.error = l.error;
        (o.judge ??= []).push(s);
      }
      for (const o of Object.values(view.users)) {
        // Without-H first, then the user's own rubric, then the cross rubrics.
        o.judge?.sort((a, b) => Number(a.withHistory) - Number(b.withHistory) || Number(b.rubricMember === o.member) - Number(a.rubricMember === o.member) || a.rubricMember - b.rubricMember);
      }
    }
    return view;
  }

  async load(datasetDir: string, tripleId: string, runDirs: readonly string[] = []): Promise<TripleViewModel> {
    const cache = await this.dataset(datasetDir);
    const { ds } = cache;
    const triple = await ds.triple(tripleId);
    if (!triple) throw new Error(`${ds.dir}: no triple with id ${tripleId}`);
    const users = await ds.usersOfTriple(tripleId);
    const byDim: TripleViewModel["users"] = {};
    for (const d of DIMENSIONS) {
      const us = users.filter((u) => u.dimension === d);
      if (us.length === 0) continue;
      byDim[d] = [0, 1, 2].map((j): UserView | null => {
        const u = us.find((x) => x.member === j);
        return u ? { id: u.id, member: u.member, dimension: u.dimension, preference: u.preference, history: u.history } : null;
      });
    }
    const runs: RunOutputsView[] = [];
    for (const dir of runDirs) {
      try {
        runs.push(this.outputsFor(await this.run(dir), tripleId, users));
      } catch (e) {
        const abs = path.resolve(dir);
        runs.push({
          run: { dir: abs, label: path.basename(abs), kind: "prompts", provider: null, model: null, status: "unreadable" },
          users: {},
          error: (e as Error).message,
        });
      }
    }
    const m = ds.manifest;
    return {
      dataset: { dir: path.resolve(ds.dir), manifestHash: ds.manifestHash, seed: m.seed, historySize: m.historySize, testTriples: m.counts.testTriples, users: m.counts.users },
      triple: { id: triple.id, prompt: triple.prompt, members: triple.members.map((mem, index) => ({ index, ...mem })) },
      users: byDim,
      runs,
      tripleIds: [...cache.ids],
    };
  }
}

/** One-shot: the view model of triple `tripleId` with the outputs of `runDirs`. */
export function loadTripleView(datasetDir: string, tripleId: string, runDirs: readonly string[] = []): Promise<TripleViewModel> {
  return new TripleViewLoader().load(datasetDir, tripleId, runDirs);
}

/** One-shot: triple ids in dataset order, filtered by id or instruction text when `query` is given. */
export function listTripleIds(datasetDir: string, query?: string): Promise<string[]> {
  return new TripleViewLoader().listTripleIds(datasetDir, query);
}

/** One-shot: search hits for the panel's search box. */
export function searchTriples(datasetDir: string, query: string, limit?: number): Promise<{ hits: TripleSearchHit[]; total: number }> {
  return new TripleViewLoader().searchTriples(datasetDir, query, limit);
}
