/**
 * Parsing model outputs: reward-model verdicts ([[A]] / [[B]]) and judge scores ([RESULT] N).
 * Anything that does not parse is reported as such (null), never guessed or defaulted.
 */

import { parseJudgeScoreJanus } from "./janus.js";

export type Verdict = "A" | "B";

const VERDICT = /\[\[\s*([AB])\s*\]\]/gi;

/** The last `[[A]]` / `[[B]]` in the text wins; null when there is none. */
export function parseVerdict(text: string): Verdict | null {
  let last: Verdict | null = null;
  for (const m of text.matchAll(VERDICT)) last = m[1]!.toUpperCase() as Verdict;
  return last;
}

/**
 * The verdict from next-token probabilities of "A" and "B" (renormalised over the two);
 * null when both are zero or missing.
 */
export function verdictFromProbabilities(p: Record<string, number> | undefined): { verdict: Verdict; pA: number } | null {
  if (!p) return null;
  const a = p.A ?? 0;
  const b = p.B ?? 0;
  if (!(a + b > 0)) return null;
  const pA = a / (a + b);
  if (pA === 0.5) return null;
  return { verdict: pA > 0.5 ? "A" : "B", pA };
}

export interface JudgeParse {
  score: number | null;
  feedback: string;
}

// A score right after a marker: "4", "(5)", "4/5", "4 out of 5", "**3**", "Result: 4", "Score: 2".
const AFTER_MARKER = /^[\s:*_\-–=>()[\]"'`]*(?:(?:result|score|rating|final score)\s*(?:is|of|:|=|-)?[\s:*_\-–=>()[\]"'`]*)?([0-9]+(?:\.[0-9]+)?)(\s*(?:\/|out of)\s*([0-9]+))?/i;

function scoreFrom(numText: string, outOf: string | undefined): number | null {
  if (outOf !== undefined && Number(outOf) !== 5) return null;
  if (!/^[1-5]$/.test(numText)) return null;
  return Number(numText);
}

/**
 * Parses a judge output in the absolute-grading format `Feedback: ... [RESULT] N`, tolerating the
 * usual drift: `[RESULT] 4/5`, `[RESULT] (5)`, `[Result] Result: 4`, `**[RESULT]** 3`,
 * `Score: 3`, `score of 1`, `Rating: 2 out of 5`. The last marker wins. A non-integer or
 * out-of-range score is null.
 */
export function parseJudgeScore(text: string): JudgeParse {
  const markers = [...text.matchAll(/\[\s*result\s*\]/gi)];
  if (markers.length > 0) {
    const last = markers.at(-1)!;
    const after = text.slice(last.index! + last[0].length);
    const m = AFTER_MARKER.exec(after);
    const feedback = text.slice(0, last.index).replace(/^\s*(?:\*\*)?feedback(?:\*\*)?\s*:\s*/i, "").replace(/[\s*]+$/, "").trim();
    return { score: m ? scoreFrom(m[1]!, m[3]) : null, feedback };
  }
  const loose = [...text.matchAll(/\b(?:final\s+)?(?:score|rating)\b(?:\s+(?:is|of))?\s*[:=\-–]?\s*\**\s*\(?([0-9]+(?:\.[0-9]+)?)\)?\**(\s*(?:\/|out of)\s*([0-9]+))?/gi)];
  if (loose.length > 0) {
    const m = loose.at(-1)!;
    return { score: scoreFrom(m[1]!, m[3]), feedback: text.slice(0, m.index).replace(/^\s*feedback\s*:\s*/i, "").trim() };
  }
  return { score: null, feedback: text.trim() };
}

/**
 * How a judge output is read: `robust` (parseJudgeScore: the last marker, 1-5 only, tolerant of
 * format drift) or `janus` (the MultiFacet authors' own parser, exactly: janus.ts).
 */
export type JudgeParser = "robust" | "janus";
export const JUDGE_PARSERS: readonly JudgeParser[] = ["robust", "janus"];

export function judgeParser(mode: JudgeParser): (text: string) => JudgeParse {
  return mode === "janus" ? parseJudgeScoreJanus : parseJudgeScore;
}
