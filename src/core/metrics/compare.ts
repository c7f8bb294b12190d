/**
 * Comparing two runs on the same items: McNemar's exact test on paired reward-model verdicts,
 * a paired bootstrap on judge scores.
 */
import { readEvalJson, readItems } from "../eval/plan.js";
import { readResults } from "../eval/runner.js";
import { scoreItems, type RmItem, type VerdictMode } from "../eval/rm.js";
import { readJudged } from "../eval/judge.js";
import { mcnemarExact, pairedBootstrap, type McNemar, type PairedBootstrap } from "./stats.js";
import { DIMENSIONS, type Dimension } from "../data/schema.js";

export interface RmComparison {
  kind: "rm";
  byDimension: Partial<Record<Dimension, McNemar & { accuracyA: number; accuracyB: number }>>;
  overall: McNemar & { accuracyA: number; accuracyB: number };
}

export interface JudgeComparison {
  kind: "judge";
  byDimension: Partial<Record<Dimension, PairedBootstrap & { meanA: number; meanB: number }>>;
  overall: PairedBootstrap & { meanA: number; meanB: number };
}

export async function compareRuns(dirA: string, dirB: string, seed = 0): Promise<RmComparison | JudgeComparison> {
  const [a, b] = await Promise.all([readEvalJson(dirA), readEvalJson(dirB)]);
  if (a.kind !== b.kind) throw new Error(`cannot compare a ${a.kind} run with a ${b.kind} run`);
  if (a.kind === "rm") {
    const score = async (dir: string, mode: VerdictMode) => new Map(scoreItems(await readItems<RmItem>(dir), await readResults(dir), mode).map((i) => [i.itemId, i]));
    const sa = await score(dirA, a.options.verdict as VerdictMode);
    const sb = await score(dirB, b.options.verdict as VerdictMode);
    const paired = [...sa.values()].filter((i) => i.status === "ok" && sb.get(i.itemId)?.status === "ok").map((i) => ({ dim: i.dimension, x: i.correct!, y: sb.get(i.itemId)!.correct! }));
    if (paired.length === 0) throw new Error("the two runs share no item that both answered; were they built on the same dataset?");
    const test = (ps: typeof paired) => ({
      ...mcnemarExact(ps.map((p) => [p.x, p.y] as [boolean, boolean])),
      accuracyA: ps.filter((p) => p.x).length / ps.length,
      accuracyB: ps.filter((p) => p.y).length / ps.length,
    });
    const byDimension: RmComparison["byDimension"] = {};
    for (const d of DIMENSIONS) {
      const ps = paired.filter((p) => p.dim === d);
      if (ps.length) byDimension[d] = test(ps);
    }
    return { kind: "rm", byDimension, overall: test(paired) };
  }
  if (a.kind === "judge") {
    const ja = new Map((await readJudged(dirA)).map((l) => [l.itemId, l]));
    const jb = new Map((await readJudged(dirB)).map((l) => [l.itemId, l]));
    const paired = [...ja.values()].filter((l) => l.score !== null && jb.get(l.itemId)?.score != null).map((l) => ({ dim: l.dimension, x: l.score!, y: jb.get(l.itemId)!.score! }));
    if (paired.length === 0) throw new Error("the two judge runs share no scored item; were they made on the same dataset and generation items?");
    const test = (ps: typeof paired) => ({
      ...pairedBootstrap(ps.map((p) => p.x), ps.map((p) => p.y), { seed }),
      meanA: ps.reduce((s, p) => s + p.x, 0) / ps.length,
      meanB: ps.reduce((s, p) => s + p.y, 0) / ps.length,
    });
    const byDimension: JudgeComparison["byDimension"] = {};
    for (const d of DIMENSIONS) {
      const ps = paired.filter((p) => p.dim === d);
      if (ps.length) byDimension[d] = test(ps);
    }
    return { kind: "judge", byDimension, overall: test(paired) };
  }
  throw new Error(`compare takes two rm runs or two judge runs, not ${a.kind} runs`);
}
