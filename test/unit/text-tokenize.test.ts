/**
 * The retrieval tokenizer (src/core/util/text.ts): its ASCII fast path gives exactly the tokens
 * of the Unicode rule (lower-cased runs of letters and digits, one-character tokens and stop
 * words dropped), so histories do not depend on which path a text takes.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { tokenize } from "../../src/core/util/text.js";
import { Rng } from "../../src/core/util/rng.js";

test("tokens: lower-cased runs of letters and digits, stop words and single characters dropped", () => {
  assert.deepEqual(tokenize("The user prefers CONCISE, step-by-step answers (with 2 examples): x9 b!"), ["user", "prefers", "concise", "step", "step", "answers", "examples", "x9"]);
  assert.deepEqual(tokenize("Über naïve café, 42 İx"), ["über", "naïve", "café", "42"]);
});

test("an ASCII text gives the tokens the Unicode rule gives", () => {
  const rng = new Rng(5, "tokenize");
  for (let i = 0; i < 5000; i++) {
    let s = "";
    const n = rng.int(60);
    for (let k = 0; k < n; k++) s += rng.next() < 0.3 ? ["the ", "and ", "a ", "it "][rng.int(4)] : String.fromCharCode(32 + rng.int(95));
    // A trailing no-break space (not a letter: a separator) sends the same text down the Unicode path.
    assert.deepEqual(tokenize(s), tokenize(`${s}\u00a0`), JSON.stringify(s));
  }
});
