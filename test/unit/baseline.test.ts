import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { BaselineProvider, scorePairwise, styleFeatures } from "../../src/core/providers/baseline.js";
import { ProviderError, type PairwiseTask, type ProviderRequest } from "../../src/core/providers/types.js";

// A user who likes short, bulleted, plain answers and dislikes long chatty prose.
const concise = (topic: string, a: string, b: string): string => `- ${topic}: ${a}\n- Also: ${b}\n- Done.`;
const verbose = (topic: string, a: string): string =>
  `Well, that is a really great question about ${topic}, and I am so glad you asked it! ` +
  `There are many things one could say here, and honestly the history of ${topic} is long and fascinating. ` +
  `In short, ${a}, although of course many experts would add plenty of nuance to that statement. ` +
  `Would you like me to go on and tell you even more about it? I would be delighted to continue!`;

const history: PairwiseTask["history"] = [
  { prompt: "How do I boil an egg?", chosen: concise("eggs", "boil 9 minutes", "cool in cold water"), rejected: verbose("eggs", "you boil them for about nine minutes") },
  { prompt: "How do I sort a list in Python?", chosen: concise("python", "use sorted(xs)", "or xs.sort()"), rejected: verbose("python sorting", "you can call sorted on the list") },
  { prompt: "What is DNS?", chosen: concise("dns", "maps names to IP addresses", "cached by resolvers"), rejected: verbose("the domain name system", "it maps names to addresses") },
  { prompt: "How to water a cactus?", chosen: concise("cactus", "water every 2-3 weeks", "let soil dry"), rejected: verbose("cactus care", "you water it rarely") },
];

const goodForUser = concise("git", "run git rebase -i HEAD~3", "mark commits as squash");
const badForUser = verbose("git history rewriting", "you can squash commits with an interactive rebase");

function task(responseA: string, responseB: string, h = history): PairwiseTask {
  return { kind: "pairwise", history: h, instruction: "How do I squash the last three git commits?", responseA, responseB };
}

function request(t?: PairwiseTask): ProviderRequest {
  return { messages: [{ role: "user", content: "(rendered reward-model prompt)" }], task: t };
}

describe("baseline provider", () => {
  const provider = new BaselineProvider({ provider: "baseline" });

  it("declares its capabilities", () => {
    assert.equal(provider.id, "baseline");
    assert.deepEqual(provider.capabilities, { tokenProbabilities: true, structuredOnly: true });
  });

  it("prefers the response that resembles the liked ones, in both presentation orders", async () => {
    const ab = await provider.call(request(task(goodForUser, badForUser)), {});
    const ba = await provider.call(request(task(badForUser, goodForUser)), {});
    assert.match(ab.text, /^Baseline: score A = -?\d+\.\d{3}, score B = -?\d+\.\d{3}\. \[\[A\]\]$/);
    assert.match(ba.text, /\[\[B\]\]$/);
    assert.ok(ab.tokenProbabilities!.A! > 0.5 && ab.tokenProbabilities!.B! < 0.5);
    assert.ok(ba.tokenProbabilities!.B! > 0.5);
    assert.ok(Math.abs(ab.tokenProbabilities!.A! + ab.tokenProbabilities!.B! - 1) < 1e-12);
    // Swapping the positions mirrors the probabilities exactly.
    assert.ok(Math.abs(ab.tokenProbabilities!.A! - ba.tokenProbabilities!.B!) < 1e-12);
    assert.deepEqual(ab.usage, { inputTokens: 0, outputTokens: 0, cachedInputTokens: 0, cacheWriteTokens: 0 });
  });

  it("follows the history when the preference is reversed", async () => {
    const reversed = history.map((h) => ({ prompt: h.prompt, chosen: h.rejected, rejected: h.chosen }));
    const r = await provider.call(request(task(goodForUser, badForUser, reversed)), {});
    assert.match(r.text, /\[\[B\]\]$/);
  });

  it("uses the lexical term: same style, different content", () => {
    const h: PairwiseTask["history"] = [
      { prompt: "p1", chosen: "Photosynthesis converts sunlight, water and carbon dioxide into glucose in chloroplasts.", rejected: "The stock market rallied as investors bought technology shares." },
      { prompt: "p2", chosen: "Chlorophyll in the chloroplasts absorbs sunlight for photosynthesis.", rejected: "Bond yields fell while investors sold bank shares." },
    ];
    const s = scorePairwise(task("Plants use chloroplasts and sunlight to make glucose.", "Investors sold shares as the market fell.", h));
    assert.equal(s.verdict, "A");
    assert.ok(s.lexicalA > s.lexicalB);
  });

  it("is deterministic", async () => {
    const a = await provider.call(request(task(goodForUser, badForUser)), {});
    const b = await new BaselineProvider({ provider: "baseline" }).call(request(task(goodForUser, badForUser)), {});
    assert.equal(a.text, b.text);
    assert.deepEqual(a.tokenProbabilities, b.tokenProbabilities);
  });

  it("breaks ties by content, not by position", async () => {
    const x = "First candidate answer.";
    const y = "Second candidate answer.";
    const ab = scorePairwise(task(x, y, []));
    const ba = scorePairwise(task(y, x, []));
    assert.ok(ab.tie && ba.tie);
    assert.equal(ab.probabilityA, 0.5);
    const winnerAB = ab.verdict === "A" ? x : y;
    const winnerBA = ba.verdict === "A" ? y : x;
    assert.equal(winnerAB, winnerBA);
    assert.equal(scorePairwise(task(x, x, [])).verdict, "A");
  });

  it("refuses requests without a pairwise task", async () => {
    await assert.rejects(
      () => provider.call(request(undefined), {}),
      (err: unknown) =>
        err instanceof ProviderError && err.kind === "unsupported" && err.message === "the baseline provider answers reward-model (pairwise) requests only",
    );
  });

  it("honours an aborted signal", async () => {
    const ac = new AbortController();
    ac.abort();
    await assert.rejects(() => provider.call(request(task(goodForUser, badForUser)), { signal: ac.signal }), (e: unknown) => e instanceof ProviderError && e.kind === "aborted");
  });

  it("computes the style features", () => {
    const text = "# Title\n- **one**\n- two\nIs it? Yes!";
    const [len, list, md, sent, q, ex] = styleFeatures(text);
    assert.equal(len, Math.log1p(text.length));
    assert.equal(list, 2 / 4);
    assert.equal(md, Math.log1p(2)); // one heading + one bold span
    assert.ok(sent! > 0);
    assert.equal(q, 1 / 5);
    assert.equal(ex, 1 / 5);
  });
});
