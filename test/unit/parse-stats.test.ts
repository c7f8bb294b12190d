import { test } from "node:test";
import assert from "node:assert/strict";
import { DEFAULT_MIN_VERDICT_MASS, parseJudgeScore, parseVerdict, verdictFormatOf, verdictFromProbabilities } from "../../src/core/eval/parse.js";
import { binomialTwoSided, bootstrapMeanCI, mcnemarExact, mean, pairedBootstrap } from "../../src/core/metrics/stats.js";

test("verdicts: the last [[A]]/[[B]] wins; anything else is unparsable", () => {
  const cases: [string, "A" | "B" | null][] = [
    ["Response A is concise. [[A]]", "A"],
    ["I first thought [[A]] but on reflection [[B]]", "B"],
    ["Final verdict: **[[B]]**", "B"],
    ["[[ a ]]", "A"],
    ["Verdict: [[A]].\n\nThe user would prefer A.", "A"],
    ["I prefer Response B.", null],
    ["[A]", null],
    ["[[C]]", null],
    ["", null],
    ["[[AB]]", null],
  ];
  for (const [text, want] of cases) assert.equal(parseVerdict(text), want, text);
  assert.deepEqual(verdictFromProbabilities({ A: 0.2, B: 0.6 }), { verdict: "B", pA: 0.25, mass: 0.8 });
  assert.deepEqual(verdictFromProbabilities({ A: 0.2, B: 0.6 }, 0.8), { verdict: "B", pA: 0.25, mass: 0.8 });
  assert.equal(verdictFromProbabilities({ A: 0.2, B: 0.6 }, 0.81), null, "below the minimum mass: no verdict");
  assert.equal(verdictFromProbabilities({ A: 1e-10, B: 3e-10 }, DEFAULT_MIN_VERDICT_MASS), null, "the [[ position of a real vocabulary");
  assert.equal(verdictFromProbabilities({ A: 0, B: 0 }), null);
  assert.equal(verdictFromProbabilities(undefined), null);
  assert.equal(verdictFromProbabilities({ A: 0.3, B: 0.3 }), null);
});

test("the verdict format is read from the template's own words, and parses verdicts in that format", () => {
  assert.deepEqual(verdictFormatOf('output your final verdict by strictly following this format: "[[A]]" if response A is better, "[[B]]" if response B is'), { prefix: "[[", suffix: "]]" });
  assert.deepEqual(verdictFormatOf("Answer <A> or <B>."), { prefix: "<", suffix: ">" });
  assert.deepEqual(verdictFormatOf("End with 'Verdict: (A)' or 'Verdict: (B)'."), { prefix: "(", suffix: ")" });
  assert.equal(verdictFormatOf("Say whether Response A or Response B is better."), undefined, "no format named");
  assert.equal(verdictFormatOf('Write "[[A]]" if A wins.'), undefined, "both letters must be named");
  assert.equal(parseVerdict("I think <B>, no: < a >", { prefix: "<", suffix: ">" }), "A");
  assert.equal(parseVerdict("[[B]]", { prefix: "<", suffix: ">" }), null, "another format's verdict does not count");
});

test("judge scores over messy real-world formats", () => {
  const cases: [string, number | null][] = [
    ["Feedback: The response is concise and direct. [RESULT] 4", 4],
    ["Feedback: good [RESULT] 4/5", 4],
    ["Feedback: ok [RESULT] (5)", 5],
    ["Feedback: meh [Result] Result: 4", 4],
    ["**Feedback:** fine\n**[RESULT]** 3", 3],
    ["Feedback: x [RESULT]: 2", 2],
    ["Feedback: x [RESULT] Score: 1", 1],
    ["The response deserves a score of 1 because it ignores the rubric.", 1],
    ["Feedback: decent.\nScore: 3", 3],
    ["Rating: 2 out of 5", 2],
    ["Final score is 5.", 5],
    ["Feedback: first [RESULT] 2 ... wait, revised [RESULT] 3", 3],
    ["Feedback: x [RESULT] 4.5", null],
    ["Feedback: x [RESULT] 7", null],
    ["Feedback: x [RESULT] 8/10", null],
    ["Feedback: x [RESULT]", null],
    ["I cannot grade this.", null],
    ["Feedback: it has 3 steps and 5 tips.", null],
  ];
  for (const [text, want] of cases) assert.equal(parseJudgeScore(text).score, want, text);
  assert.equal(parseJudgeScore("Feedback: The response is concise. [RESULT] 4").feedback, "The response is concise.");
});

test("bootstrap CI is seeded, contains the mean and narrows with n", () => {
  const xs = Array.from({ length: 200 }, (_, i) => (i % 3 === 0 ? 0 : 1));
  const a = bootstrapMeanCI(xs, { seed: 1 });
  assert.deepEqual(bootstrapMeanCI(xs, { seed: 1 }), a);
  assert.ok(a.lo < mean(xs) && mean(xs) < a.hi);
  // Normal approximation: half-width ~ 1.96 * sqrt(p(1-p)/n) = 0.065.
  assert.ok(Math.abs((a.hi - a.lo) / 2 - 0.065) < 0.015, `half-width ${(a.hi - a.lo) / 2}`);
  const big = bootstrapMeanCI([...xs, ...xs, ...xs, ...xs], { seed: 1 });
  assert.ok(big.hi - big.lo < a.hi - a.lo);
});

test("exact binomial and McNemar against hand-computed values", () => {
  // P(X<=1 | n=10, 0.5) = 11/1024; two-sided = 22/1024.
  assert.ok(Math.abs(binomialTwoSided(1, 10) - 22 / 1024) < 1e-12);
  assert.equal(binomialTwoSided(5, 10), 1);
  const pairs: [boolean, boolean][] = [
    ...Array.from({ length: 9 }, () => [true, false] as [boolean, boolean]),
    [false, true],
    ...Array.from({ length: 30 }, () => [true, true] as [boolean, boolean]),
  ];
  const m = mcnemarExact(pairs);
  assert.equal(m.b, 9);
  assert.equal(m.c, 1);
  assert.ok(Math.abs(m.pValue - 22 / 1024) < 1e-12);
});

test("paired bootstrap finds a real shift and not a null one", () => {
  const a = Array.from({ length: 100 }, (_, i) => 2 + (i % 4));
  const shifted = a.map((x, i) => x + (i % 2 === 0 ? 1 : 0));
  const r = pairedBootstrap(a, shifted, { seed: 3 });
  assert.equal(r.meanDiff, 0.5);
  assert.ok(r.pValue < 0.01);
  assert.ok(r.ci.lo > 0.3 && r.ci.hi < 0.7);
  const noise = a.map((x, i) => x + (i % 2 === 0 ? 1 : -1));
  assert.ok(pairedBootstrap(a, noise, { seed: 3 }).pValue > 0.5);
});
