/**
 * Parsing model outputs: reward-model verdicts ([[A]] / [[B]]) and judge scores ([RESULT] N).
 * Anything that does not parse is reported as such (null), never guessed or defaulted.
 */

import { parseJudgeScoreJanus } from "./janus.js";

export type Verdict = "A" | "B";

/**
 * How a reward-model template asks for its verdict: the text around the letter, e.g. B.1's
 * `"[[A]]" ... "[[B]]"` gives prefix `[[` and suffix `]]`. Derived from the template
 * (verdictFormatOf), never assumed: the prefix is what a probability verdict prefills (llama.cpp)
 * or waits for in the generated text (OpenAI logprobs) before reading P(A) vs P(B).
 */
export interface VerdictFormat {
  prefix: string;
  suffix: string;
}

/** The paper's B.1 format; used only where no template is at hand (tests, legacy callers). */
export const B1_VERDICT_FORMAT: VerdictFormat = { prefix: "[[", suffix: "]]" };

const QUOTED = /["'`\u201c\u2018]([^"'`\u201d\u2019\s\w]{0,8})A([^"'`\u201d\u2019\s\w]{0,8})["'`\u201d\u2019]/g;
const BARE = /([^\s\w"'`]{1,8})A([^\s\w"'`]{1,8})/g;

/**
 * The verdict format a template's text asks for: the last `PREFIX A SUFFIX` (quoted, else bare,
 * prefix/suffix made of punctuation) whose `PREFIX B SUFFIX` also appears. Undefined when the
 * text names no such pair (a probability verdict then cannot be read).
 */
export function verdictFormatOf(text: string): VerdictFormat | undefined {
  for (const re of [QUOTED, BARE]) {
    let found: VerdictFormat | undefined;
    for (const m of text.matchAll(re)) {
      const prefix = m[1]!;
      const suffix = m[2]!;
      if (!prefix && !suffix) continue;
      if (text.includes(`${prefix}B${suffix}`)) found = { prefix, suffix };
    }
    if (found) return found;
  }
  return undefined;
}

const escapeRe = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
const verdictRes = new Map<string, RegExp>();

function verdictRe(f: VerdictFormat): RegExp {
  const key = `${f.prefix}\0${f.suffix}`;
  let re = verdictRes.get(key);
  if (!re) {
    re = new RegExp(`${escapeRe(f.prefix)}\\s*([AB])\\s*${escapeRe(f.suffix)}`, "gi");
    verdictRes.set(key, re);
  }
  return re;
}

/** The last `[[A]]` / `[[B]]` (in the template's format) in the text wins; null when there is none. */
export function parseVerdict(text: string, format: VerdictFormat = B1_VERDICT_FORMAT): Verdict | null {
  let last: Verdict | null = null;
  for (const m of text.matchAll(verdictRe(format))) last = m[1]!.toUpperCase() as Verdict;
  return last;
}

/** Default --min-verdict-mass: below it the model was more likely to write something other than a verdict letter. */
export const DEFAULT_MIN_VERDICT_MASS = 0.5;

export interface ProbabilityVerdict {
  verdict: Verdict;
  /** P(A) renormalised over A and B. */
  pA: number;
  /** P(A) + P(B) before renormalising: how much of the distribution the candidates hold. */
  mass: number;
}

/**
 * The verdict from next-token probabilities of "A" and "B" (renormalised over the two). Null when
 * both are zero or missing, on an exact tie, or when their total mass is below `minMass` (the model
 * was not answering with a letter there: an unparsable item, never a guess). `massOf` gives the
 * mass even when no verdict is returned.
 */
export function verdictFromProbabilities(p: Record<string, number> | undefined, minMass = 0): ProbabilityVerdict | null {
  if (!p) return null;
  const a = p.A ?? 0;
  const b = p.B ?? 0;
  const mass = a + b;
  if (!(mass > 0) || mass < minMass) return null;
  const pA = a / mass;
  if (pA === 0.5) return null;
  return { verdict: pA > 0.5 ? "A" : "B", pA, mass };
}

/** P(A) + P(B) of a probability result; undefined when there were no probabilities. */
export function massOf(p: Record<string, number> | undefined): number | undefined {
  return p ? (p.A ?? 0) + (p.B ?? 0) : undefined;
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
    const after = text.slice(last.index + last[0].length);
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
