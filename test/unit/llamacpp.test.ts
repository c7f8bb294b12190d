/**
 * Real inference through node-llama-cpp on tiny synthetic GGUF models written by scripts/make-gguf.ts
 * (random weights, so the text is gibberish; what is tested is the plumbing). CPU only, 1 thread:
 * on small machines more threads make a tiny model slower, not faster (see llamacpp.ts).
 */
import assert from "node:assert/strict";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { writeTinyGguf } from "../../scripts/make-gguf.js";
import { LlamaCppProvider } from "../../src/core/providers/llamacpp.js";
import { createProvider } from "../../src/core/providers/registry.js";
import { ProviderError, type ChatMessage, type ProviderRequest } from "../../src/core/providers/types.js";

let dir: string;
let chatml: string;
let llama3: string;
let mistral: string;
let provider: LlamaCppProvider;

const base = { provider: "llamacpp" as const, gpu: false as const, threads: 1, seed: 7 };

/** A feedback history long enough to matter (~1,000 tokens on the tiny vocabulary). */
const HISTORY = Array.from(
  { length: 14 },
  (_, i) => `Example ${i + 1}:\nInstruction\nExplain topic ${i}.\nResponse liked by the user\nA short list.\nResponse NOT liked by the user\nA long story.\n`,
).join("\n");

function rmRequest(tail: string, key: string): ProviderRequest {
  const messages: ChatMessage[] = [
    { role: "system", content: "You predict which response the user prefers." },
    { role: "user", content: `# START OF EXAMPLES\n${HISTORY}# END OF EXAMPLES\n\n${tail}\nAnswer [[A]] or [[B]].`, cachePrefix: true },
  ];
  return { messages, sequenceKey: key, probabilities: { candidates: ["A", "B"], answerPrefix: "[[" } };
}

function isProviderError(kind: string, pattern?: RegExp) {
  return (err: unknown): boolean => {
    assert.ok(err instanceof ProviderError, `expected a ProviderError, got ${String(err)}`);
    assert.equal(err.kind, kind, err.message);
    if (pattern) assert.match(err.message, pattern);
    return true;
  };
}

before(async () => {
  dir = await mkdtemp(join(tmpdir(), "preflab-llamacpp-"));
  chatml = join(dir, "chatml.gguf");
  llama3 = join(dir, "llama3.gguf");
  mistral = join(dir, "mistral.gguf");
  await writeTinyGguf(chatml, { chatTemplate: "chatml" });
  await writeTinyGguf(llama3, { chatTemplate: "llama3" });
  await writeTinyGguf(mistral, { chatTemplate: "mistral" });
  // Flash attention off: on the CPU it makes the short suffixes evaluated here ~10x slower.
  provider = await LlamaCppProvider.create({ ...base, modelPath: chatml, contextSize: 2048, sequences: 2, flashAttention: false });
});

after(async () => {
  await provider?.dispose();
  await rm(dir, { recursive: true, force: true });
});

describe("llamacpp provider (tiny synthetic GGUF, CPU)", () => {
  it("loads through the registry's lazy factory", async () => {
    const p = await createProvider({ ...base, modelPath: chatml, contextSize: 512 });
    try {
      assert.ok(p instanceof LlamaCppProvider);
      assert.equal(p.id, "llamacpp");
      assert.equal(p.model, "chatml.gguf");
      assert.deepEqual(p.capabilities, { tokenProbabilities: true });
      assert.equal(p.gpuLayers, 0);
      assert.equal(p.threads, 1);
    } finally {
      await p.dispose?.();
    }
  });

  it("generates text", async () => {
    const r = await provider.call({ messages: [{ role: "user", content: "Say something." }], params: { maxTokens: 12 }, sequenceKey: "gen" }, {});
    assert.equal(typeof r.text, "string");
    assert.ok(r.usage.outputTokens >= 1 && r.usage.outputTokens <= 12, `outputTokens ${r.usage.outputTokens}`);
    assert.ok(r.usage.inputTokens > 3);
    assert.ok(r.finishReason === "length" || r.finishReason === "stop");
    assert.ok(r.latencyMs >= 0);
  });

  it("reads next-token probabilities of the candidates without generating", async () => {
    const r = await provider.call(rmRequest("Which response?", "probs"), {});
    const p = r.tokenProbabilities!;
    assert.ok(p.A! > 0 && p.B! > 0, JSON.stringify(p));
    assert.ok(p.A! + p.B! <= 1 + 1e-9);
    assert.equal(r.text, p.A! >= p.B! ? "A" : "B");
    assert.equal(r.usage.outputTokens, 0);
    assert.equal(r.finishReason, "probabilities");
  });

  it("reuses the KV cache of a user's shared history prefix", async () => {
    const first = await provider.call(rmRequest("###The instruction to evaluate:\nHow do I boil an egg?", "user-1"), {});
    const second = await provider.call(rmRequest("###The instruction to evaluate:\nHow do I sort a list?", "user-1"), {});
    // A new user may take over another user's sequence: only the chat preamble can match.
    assert.ok(first.usage.cachedInputTokens < 10, JSON.stringify(first.usage));
    assert.ok(first.usage.inputTokens > 600, `prompt has ${first.usage.inputTokens} tokens`);
    // Everything up to the new instruction comes from the cache.
    assert.ok(second.usage.cachedInputTokens > 0);
    assert.ok(second.usage.cachedInputTokens >= 0.95 * second.usage.inputTokens, JSON.stringify(second.usage));
    assert.ok(second.usage.inputTokens - second.usage.cachedInputTokens <= 60, JSON.stringify(second.usage));
    // Same prompt again: all but the last token (needed for the logits) is reused.
    const third = await provider.call(rmRequest("###The instruction to evaluate:\nHow do I sort a list?", "user-1"), {});
    assert.equal(third.usage.cachedInputTokens, third.usage.inputTokens - 1);
    assert.ok(Math.abs(third.tokenProbabilities!.A! - second.tokenProbabilities!.A!) < 1e-3);
    console.log(`# prefix reuse: first ${first.latencyMs.toFixed(1)} ms, second ${second.latencyMs.toFixed(1)} ms (${second.usage.cachedInputTokens}/${second.usage.inputTokens} tokens cached)`);
  });

  it("hands the least recently used sequence to a new user when all are taken", async () => {
    const p = await LlamaCppProvider.create({ ...base, modelPath: chatml, contextSize: 2048, sequences: 2 });
    try {
      await p.call(rmRequest("q1", "u1"), {});
      await p.call(rmRequest("q1", "u2"), {});
      await p.call(rmRequest("q2", "u1"), {}); // u2 is now the least recently used
      const u3 = await p.call({ messages: [{ role: "user", content: "Something unrelated." }], params: { maxTokens: 2 }, sequenceKey: "u3" }, {});
      assert.ok(u3.usage.cachedInputTokens < 10, "u3 got u2's sequence, which shares no prefix with it");
      const u1 = await p.call(rmRequest("q3", "u1"), {});
      assert.ok(u1.usage.cachedInputTokens >= 0.95 * u1.usage.inputTokens, "u1 kept its sequence");
      // Different users in parallel on different sequences.
      const [a, b] = await Promise.all([p.call(rmRequest("q4", "u1"), {}), p.call(rmRequest("q4", "u4"), {})]);
      assert.ok(a.tokenProbabilities && b.tokenProbabilities);
    } finally {
      await p.dispose();
    }
  });

  it("uses the Llama 3 chat wrapper for the Llama 3 template", async () => {
    const p = await LlamaCppProvider.create({ ...base, modelPath: llama3, contextSize: 1024 });
    try {
      assert.equal(p.chatWrapperName, "Llama 3");
      const req: ProviderRequest = { messages: [{ role: "system", content: "Be brief." }, { role: "user", content: "Hello there" }], params: { maxTokens: 8 } };
      const tokens = p.promptTokens(req);
      assert.ok(tokens.length > 5);
      const r = await p.call(req, {});
      assert.ok(r.usage.outputTokens >= 1);
      const probs = await p.call({ ...req, probabilities: { candidates: ["A", "B"], answerPrefix: "[[" } }, {});
      assert.ok(probs.tokenProbabilities!.A! > 0);
    } finally {
      await p.dispose();
    }
  });

  it("uses the Mistral chat wrapper for the Mistral template", async () => {
    const p = await LlamaCppProvider.create({ ...base, modelPath: mistral, contextSize: 1024 });
    try {
      assert.equal(p.chatWrapperName, "Mistral");
      const r = await p.call({ messages: [{ role: "system", content: "Be brief." }, { role: "user", content: "Hello there" }], params: { maxTokens: 8 } }, {});
      assert.ok(r.usage.outputTokens >= 1);
    } finally {
      await p.dispose();
    }
  });

  it("names the file when it is missing", async () => {
    const missing = join(dir, "nope.gguf");
    await assert.rejects(() => LlamaCppProvider.create({ ...base, modelPath: missing }), isProviderError("bad_request", /model file not found: .*nope\.gguf/));
  });

  it("names the file when it is not GGUF", async () => {
    const bogus = join(dir, "bogus.gguf");
    await writeFile(bogus, "this is not a model, just text\n");
    await assert.rejects(() => LlamaCppProvider.create({ ...base, modelPath: bogus }), isProviderError("bad_request", /bogus\.gguf is not a GGUF file/));
  });

  it("rejects a prompt longer than the context", async () => {
    const long = "word ".repeat(3000);
    await assert.rejects(
      () => provider.call({ messages: [{ role: "user", content: long }], sequenceKey: "long" }, {}),
      isProviderError("input_too_long", /longer than the context size \(2048 tokens\) of .*chatml\.gguf/),
    );
  });

  it("honours an abort signal", async () => {
    const ac = new AbortController();
    ac.abort();
    await assert.rejects(() => provider.call(rmRequest("q", "abort"), { signal: ac.signal }), isProviderError("aborted"));
    // Aborting while queued behind another request of the same user.
    const ac2 = new AbortController();
    const running = provider.call({ messages: [{ role: "user", content: HISTORY }], params: { maxTokens: 64 }, sequenceKey: "abort" }, {});
    const queued = provider.call(rmRequest("q", "abort"), { signal: ac2.signal });
    ac2.abort();
    await assert.rejects(() => queued, isProviderError("aborted"));
    await running;
    // The sequence is still usable afterwards.
    const after = await provider.call(rmRequest("q", "abort"), {});
    assert.ok(after.tokenProbabilities);
  });

  it("stops reading a long prompt when aborted, keeping what was read", async () => {
    // Small batches: the prompt is read in ~20 steps with an abort check between them.
    const p = await LlamaCppProvider.create({ ...base, modelPath: chatml, contextSize: 2048, sequences: 1, batchSize: 64 });
    try {
      const ac = new AbortController();
      setTimeout(() => ac.abort(), 1);
      await assert.rejects(() => p.call(rmRequest("q", "k"), { signal: ac.signal }), isProviderError("aborted"));
      const next = await p.call(rmRequest("q", "k"), {});
      assert.ok(next.usage.cachedInputTokens > 0 && next.usage.cachedInputTokens < next.usage.inputTokens - 1, JSON.stringify(next.usage));
    } finally {
      await p.dispose();
    }
  });
});
