import { test } from "node:test";
import assert from "node:assert/strict";
import { countTokens, ESTIMATE_TOKENIZER, openAIEncodingFor, splitSegments, tokenizerFor } from "../../src/core/templates/tokens.js";
import { builtinTemplate, parseTemplate } from "../../src/core/templates/template.js";
import { renderWithBudget } from "../../src/core/templates/budget.js";

test("OpenAI model names map to their tiktoken encodings", () => {
  for (const m of ["gpt-4o", "gpt-4o-2024-05-13", "gpt-4o-mini", "gpt-4.1-nano", "o1", "o3-mini", "o4-mini", "gpt-5", "ft:gpt-4o-2024-08-06:org::abc"]) {
    assert.equal(openAIEncodingFor(m), "o200k_base", m);
  }
  for (const m of ["gpt-4", "gpt-4-turbo", "gpt-3.5-turbo-0125", "ft:gpt-3.5-turbo:org::x"]) assert.equal(openAIEncodingFor(m), "cl100k_base", m);
  for (const m of ["llama-3", "claude-3-5-sonnet", "o", "gpt-4oz"]) assert.equal(openAIEncodingFor(m), undefined, m);
});

test("tiktoken counts differ by encoding and match known token counts", async () => {
  const o200 = await tokenizerFor({ provider: "openai", model: "gpt-4o" });
  const cl100 = await tokenizerFor({ provider: "openai", model: "gpt-4" });
  assert.equal(o200.name, "tiktoken:o200k_base");
  assert.equal(cl100.name, "tiktoken:cl100k_base");
  assert.ok(o200.exact && cl100.exact);
  // "hello world" is two tokens in both; Hindi text splits very differently.
  assert.equal(o200.count("hello world"), 2);
  assert.equal(cl100.count("hello world"), 2);
  const hindi = "नमस्ते दुनिया, आप कैसे हैं?";
  assert.ok(cl100.count(hindi) > o200.count(hindi) * 1.5, `${cl100.count(hindi)} vs ${o200.count(hindi)}`);
  // Special-token text in content is plain text, never an error.
  assert.ok(o200.count("<|endoftext|>") > 1);
  // Chat formatting: 3 per message + 3 for the reply.
  assert.equal(o200.countMessages([{ role: "user", content: "hello world" }]), 2 + 3 + 3);
  assert.equal(await countTokens({ provider: "openai", model: "gpt-4o-mini" }, "hello world"), 2);
  const unknown = await tokenizerFor({ provider: "openai", model: "my-future-model" });
  assert.equal(unknown.exact, false);
  assert.match(unknown.name, /o200k_base \(assumed\)/);
});

test("Anthropic, compatible servers and unknown providers are a recorded estimate", async () => {
  for (const provider of ["anthropic", "openai-compatible", "baseline"]) {
    const t = await tokenizerFor({ provider, model: "x" });
    assert.equal(t, ESTIMATE_TOKENIZER);
    assert.equal(t.exact, false);
    assert.equal(t.count("abcdefgh"), 2);
  }
});

test("the budget counts with the given tokenizer: CJK text that chars/4 underestimates drops more history", async () => {
  const t = parseTemplate("---\nkind: reward-model\nname: t\n---\n@user\n{{feedback_history}}\nQ: {{instruction}}\nA: {{response_a}}\nB: {{response_b}}\nSay [[A]] or [[B]].\n").template!;
  const ht = builtinTemplate("history");
  // ~1 token per CJK character with cl100k, but chars/4 counts a quarter of that.
  const history = Array.from({ length: 10 }, (_, i) => ({ prompt: `q${i}`, chosen: "漢字 仮名 交じり 文 ".repeat(40), rejected: "日本語 の 文章 です ".repeat(40) }));
  const cl100 = await tokenizerFor({ provider: "openai", model: "gpt-4" });
  const values = { instruction: "I", response_a: "a", response_b: "b" };
  const est = renderWithBudget(t, ht, history, values, 4000);
  const real = renderWithBudget(t, ht, history, values, 4000, cl100);
  assert.equal(est.dropped, 0, "the estimate thinks everything fits");
  assert.ok(real.dropped > 0, "the real count drops pairs");
  assert.ok(real.tokens <= 4000);
  assert.equal(real.tokens, cl100.countMessages(real.messages));
  assert.ok(!real.messages[0]!.content.includes("q0\n"), "the front (least similar) pair went first");
});

test("tiktoken counts a text as the sum of its segments, exactly as whole-text encoding does", async () => {
  const { getEncoding } = await import("js-tiktoken");
  const tpl = builtinTemplate("reward-model");
  const htpl = builtinTemplate("history");
  // Boundaries the pre-tokenizer treats specially: punctuation taking trailing newlines (and "/"),
  // newline runs with spaces, CRLF, digits, contractions, non-Latin scripts, markdown.
  const pieces = ["Hello.\n", "\n\n", "  \n", "\r\n", "/path\n", "1234\n", "'s done\n", "## Title\n", "- item\n", "नमस्ते\n", "你好。\n", "x", " ", "\t\n", ":\n/", "end"];
  let seed = 7;
  const rnd = (n: number) => ((seed = (seed * 1103515245 + 12345) % 2 ** 31), seed % n);
  const texts: string[] = [];
  for (let i = 0; i < 300; i++) texts.push(Array.from({ length: 5 + rnd(30) }, () => pieces[rnd(pieces.length)]!).join(""));
  const history = [{ prompt: "Plan a trip.\nTwo days.", chosen: "Day 1:\n- museum\n\nDay 2:\n/ hike", rejected: "No.\r\nSorry." }];
  const p = renderWithBudget(tpl, htpl, history, { instruction: "Why?\n\n1. a\n2. b", response_a: "Because.\n", response_b: "  \nIt is." }, 12_800);
  texts.push(p.messages[0]!.content);
  for (const [model, encoding] of [["gpt-4o", "o200k_base"], ["gpt-4", "cl100k_base"]] as const) {
    const tok = await tokenizerFor({ provider: "openai", model });
    assert.equal(tok.segmentsAdd, true);
    const enc = getEncoding(encoding);
    for (const t of texts) {
      const whole = enc.encode(t, [], []).length;
      assert.equal(tok.count(t), whole, JSON.stringify(t));
      assert.equal(splitSegments(t).reduce((n, s) => n + enc.encode(s, [], []).length, 0), whole, JSON.stringify(t));
      assert.equal(tok.count(t), whole, "a second count (from the memo) is the same");
    }
  }
  assert.equal(splitSegments("a\nb\n c\n/d\ne").join("|"), "a\n|b\n c\n/d\n|e");
});

test("o200k_base pieces of ASCII text by character code are exactly the tiktoken regex's", async () => {
  const { o200kAsciiPieces } = await import("../../src/core/templates/o200k-ascii.js");
  const ranks = (await import("js-tiktoken/ranks/o200k_base")).default as { pat_str: string };
  const re = new RegExp(ranks.pat_str, "gu");
  // Letters of both cases, digits, contraction parts, every ASCII whitespace, punctuation, "/", controls.
  const chars = ["a", "b", "Z", "Q", "e", "1", "2", "3", "'", "s", "t", "r", "l", "d", "m", "v", "S", "L", "E", " ", " ", " ", "\n", "\r", "\t", "\v", "\f", ".", ",", "/", "!", "#", "-", "_", "(", "\u0000", "\u007f"];
  let seed = 11;
  const rnd = (n: number) => ((seed = (seed * 1103515245 + 12345) % 2 ** 31), seed % n);
  for (let i = 0; i < 30_000; i++) {
    let s = "";
    for (let k = 1 + rnd(16); k > 0; k--) s += chars[rnd(chars.length)];
    assert.deepEqual(o200kAsciiPieces(s), [...s.matchAll(re)].map((m) => m[0]), JSON.stringify(s));
  }
  assert.equal(o200kAsciiPieces("naïve"), undefined, "non-ASCII text goes through the regex");
});
