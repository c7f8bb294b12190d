/**
 * The real `openai` and `@anthropic-ai/sdk` clients, through OpenAIProvider / AnthropicProvider,
 * against the wire-format test servers in test/servers/fake-apis.ts.
 */
import assert from "node:assert/strict";
import { after, before, beforeEach, describe, test } from "node:test";
import { AnthropicProvider } from "../../src/core/providers/anthropic.js";
import { OpenAIProvider, answerPosition, candidateProbabilities } from "../../src/core/providers/openai.js";
import { parseRetryAfter } from "../../src/core/providers/sdk-errors.js";
import { ProviderError, type ChatMessage, type ProviderErrorKind } from "../../src/core/providers/types.js";
import { FakeApiServer, type ChatBody, type Fault, type MessagesBody } from "../servers/fake-apis.js";

const KEY = "sk-test-PROVIDERS-0123456789";
let api: FakeApiServer;

before(async () => {
  api = await FakeApiServer.start();
});
after(async () => {
  await api.close();
});
beforeEach(() => {
  api.requests.length = 0;
  api.faults = [];
  api.faultFn = undefined;
});

const openai = (over: Partial<ConstructorParameters<typeof OpenAIProvider>[0]> = {}) =>
  new OpenAIProvider({ provider: "openai", model: "gpt-test", apiKey: KEY, baseUrl: api.openaiBaseUrl, ...over }, "openai");
const compatible = (over: Partial<ConstructorParameters<typeof OpenAIProvider>[0]> = {}) =>
  new OpenAIProvider({ provider: "openai-compatible", model: "llama-test", baseUrl: api.openaiBaseUrl, ...over }, "openai-compatible");
const anthropic = (over: Partial<ConstructorParameters<typeof AnthropicProvider>[0]> = {}) =>
  new AnthropicProvider({ provider: "anthropic", model: "claude-test", apiKey: KEY, baseUrl: api.anthropicBaseUrl, ...over });

const user = (content: string): ChatMessage => ({ role: "user", content });

async function rejectsWith(p: Promise<unknown>, kind: ProviderErrorKind): Promise<ProviderError> {
  try {
    await p;
  } catch (e) {
    assert.ok(e instanceof ProviderError, `expected a ProviderError, got ${String(e)}`);
    assert.equal(e.kind, kind, `expected kind ${kind}, got ${e.kind}: ${e.message}`);
    return e;
  }
  assert.fail(`expected a ${kind} error`);
}

describe("OpenAIProvider", () => {
  test("text, usage and the request body", async () => {
    api.chat = () => ({ text: "Hello there", completionTokens: 3 });
    const r = await openai({ seed: 7, topP: 0.5, maxTokens: 64 }).call({ messages: [{ role: "system", content: "sys" }, user("Hi")], params: { stop: ["\n\n"] } }, {});
    assert.equal(r.text, "Hello there");
    assert.equal(r.finishReason, "stop");
    assert.equal(r.usage.outputTokens, 3);
    assert.ok(r.usage.inputTokens > 0);
    assert.equal(r.usage.cachedInputTokens, 0);
    assert.ok(r.latencyMs >= 0);
    const [req] = api.requestsTo("/v1/chat/completions");
    const body = req!.body as ChatBody;
    assert.equal(req!.headers.authorization, `Bearer ${KEY}`);
    assert.equal(body.model, "gpt-test");
    assert.deepEqual(body.messages, [{ role: "system", content: "sys" }, { role: "user", content: "Hi" }]);
    assert.equal(body.temperature, undefined, "openai leaves temperature at the API default");
    assert.equal(body.seed, 7);
    assert.equal(body.top_p, 0.5);
    assert.equal(body.max_completion_tokens, 64);
    assert.deepEqual(body.stop, ["\n\n"]);
    assert.equal(body.logprobs, undefined);
  });

  test("openai-compatible: no key needed, temperature 0.9 by default, max_tokens", async () => {
    await compatible({ maxTokens: 10 }).call({ messages: [user("x")] }, {});
    await compatible({ temperature: 0.2 }).call({ messages: [user("y")], params: { maxTokens: 5 } }, {});
    await openai({ temperature: 0.3 }).call({ messages: [user("z")] }, {});
    const bodies = api.requestsTo("/v1/chat/completions").map((r) => r.body as ChatBody);
    assert.equal(bodies[0]!.temperature, 0.9);
    assert.equal(bodies[0]!.max_tokens, 10);
    assert.equal(bodies[1]!.temperature, 0.2);
    assert.equal(bodies[1]!.max_tokens, 5);
    assert.equal(bodies[2]!.temperature, 0.3);
  });

  test("automatic prefix caching reports cached_tokens as cachedInputTokens", async () => {
    const history = "H".repeat(6000); // ~1500 tokens, over the 1024-token minimum
    const p = openai();
    const first = await p.call({ messages: [user(history + " question one")] }, {});
    const second = await p.call({ messages: [user(history + " question two")] }, {});
    assert.equal(first.usage.cachedInputTokens, 0);
    assert.ok(second.usage.cachedInputTokens >= 1024, `cached ${second.usage.cachedInputTokens}`);
    assert.ok(second.usage.cachedInputTokens <= second.usage.inputTokens);
    const short = await p.call({ messages: [user("short " + "x".repeat(100))] }, {});
    assert.equal(short.usage.cachedInputTokens, 0);
  });

  test("verdict probabilities from the first token's top_logprobs", async () => {
    api.chat = () => ({
      text: " A",
      logprobs: [{ token: " A", logprob: Math.log(0.6), top: [{ token: " A", logprob: Math.log(0.6) }, { token: "B", logprob: Math.log(0.25) }, { token: "A", logprob: Math.log(0.1) }, { token: "C", logprob: Math.log(0.05) }] }],
    });
    const r = await openai({ maxTokens: 500 }).call({ messages: [user("Which is better, A or B?")], probabilities: { candidates: ["A", "B", "D"] } }, {});
    assert.ok(Math.abs(r.tokenProbabilities!.A! - 0.7) < 1e-9);
    assert.ok(Math.abs(r.tokenProbabilities!.B! - 0.25) < 1e-9);
    assert.equal(r.tokenProbabilities!.D, 0);
    const body = api.requestsTo("/v1/chat/completions")[0]!.body as ChatBody;
    assert.equal(body.logprobs, true);
    assert.equal(body.top_logprobs, 20);
    assert.equal(body.max_completion_tokens, 1);
  });

  test("answerPrefix: probabilities at the token after the prefix; absent prefix gives zeros", () => {
    const content = [
      { token: "Answer", logprob: -0.1, top_logprobs: [] },
      { token: ":", logprob: -0.1, top_logprobs: [] },
      { token: " B", logprob: Math.log(0.8), top_logprobs: [{ token: " B", logprob: Math.log(0.8) }, { token: " A", logprob: Math.log(0.2) }] },
    ];
    assert.deepEqual(candidateProbabilities("t", content, ["A", "B"], "Answer:"), { A: Math.exp(Math.log(0.2)), B: Math.exp(Math.log(0.8)) });
    assert.deepEqual(candidateProbabilities("t", content, ["A", "B"], "Verdict:"), { A: 0, B: 0 });
  });

  test("verdict prefix: the model writes [[ then the letter; logprobs are read at the letter, after the last [[", async () => {
    const lp = (token: string, top?: [string, number][]) => ({ token, logprob: -0.05, ...(top ? { top: top.map(([t, p]) => ({ token: t, logprob: Math.log(p) })) } : {}) });
    api.chat = () => ({
      text: 'Format: "[[B]]"... so [[A]]',
      logprobs: [
        lp("Format", [["Format", 0.9], ["A", 0.05]]),
        lp(":"),
        lp(' "'),
        lp("[["),
        lp("B", [["B", 0.9], ["A", 0.1]]),
        lp("]]\""),
        lp("..."),
        lp(" so"),
        lp(" [["),
        lp("A", [["A", 0.8], ["B", 0.15], [" A", 0.01]]),
        lp("]]"),
      ],
    });
    const r = await openai().call({ messages: [user("Which? [[A]] or [[B]]")], probabilities: { candidates: ["A", "B"], answerPrefix: "[[" } }, {});
    assert.ok(Math.abs(r.tokenProbabilities!.A! - 0.81) < 1e-9, JSON.stringify(r.tokenProbabilities));
    assert.ok(Math.abs(r.tokenProbabilities!.B! - 0.15) < 1e-9);
    assert.equal(r.text, 'Format: "[[B]]"... so [[A]]', "the generated text comes back for the text verdict");
    const body = api.requestsTo("/v1/chat/completions").at(-1)!.body as ChatBody;
    assert.equal(body.max_completion_tokens, undefined, "room for the explanation before the verdict");
    assert.equal(body.top_logprobs, 20);
    // A whitespace token between the prefix and the letter is skipped; a letter glued to the prefix cannot be read.
    assert.equal(answerPosition([lp("[["), lp(" "), lp("B")], "[["), 2);
    assert.equal(answerPosition([lp(" [[A"), lp("]]")], "[["), undefined);
    assert.equal(answerPosition([lp("no verdict")], "[["), undefined);
    assert.equal(answerPosition([lp("x"), lp("[[")], "[["), undefined, "nothing after the prefix");
  });

  test("logprobs requested but missing from the response: malformed", async () => {
    api.chat = () => ({ text: "A", logprobs: [] });
    await rejectsWith(openai().call({ messages: [user("q")], probabilities: { candidates: ["A", "B"] } }, {}), "malformed");
  });

  test("no API key for openai is refused up front; no base URL for openai-compatible too", () => {
    assert.throws(() => openai({ apiKey: undefined }), (e) => e instanceof ProviderError && e.kind === "auth");
    assert.throws(() => compatible({ baseUrl: undefined }), (e) => e instanceof ProviderError && e.kind === "bad_request");
  });
});

describe("error mapping (both SDKs)", () => {
  const cases: { name: string; fault: Fault; kind: ProviderErrorKind; status?: number; retryAfterMs?: number }[] = [
    { name: "429 Retry-After seconds", fault: { kind: "rate_limit", retryAfter: "2" }, kind: "rate_limit", status: 429, retryAfterMs: 2000 },
    { name: "429 retry-after-ms", fault: { kind: "rate_limit", retryAfterMs: 1500 }, kind: "rate_limit", status: 429, retryAfterMs: 1500 },
    { name: "500", fault: { kind: "status", status: 500 }, kind: "server", status: 500 },
    { name: "503", fault: { kind: "status", status: 503 }, kind: "server", status: 503 },
    { name: "401", fault: { kind: "status", status: 401 }, kind: "auth", status: 401 },
    { name: "403", fault: { kind: "status", status: 403 }, kind: "auth", status: 403 },
    { name: "400", fault: { kind: "status", status: 400, message: "bad things" }, kind: "bad_request", status: 400 },
    { name: "404", fault: { kind: "status", status: 404 }, kind: "bad_request", status: 404 },
    { name: "malformed JSON", fault: { kind: "malformed" }, kind: "malformed" },
    { name: "JSON without choices/content", fault: { kind: "empty_json" }, kind: "malformed" },
    { name: "body cut short", fault: { kind: "cut" }, kind: "network" },
    { name: "connection reset", fault: { kind: "reset" }, kind: "network" },
  ];
  for (const [label, make] of [
    ["openai", () => openai()],
    ["anthropic", () => anthropic()],
  ] as const) {
    for (const c of cases) {
      test(`${label}: ${c.name} -> ${c.kind}`, async () => {
        api.faults.push(c.fault);
        const e = await rejectsWith(make().call({ messages: [user("q")] }, {}), c.kind);
        if (c.status !== undefined) assert.equal(e.status, c.status);
        if (c.retryAfterMs !== undefined) assert.equal(e.retryAfterMs, c.retryAfterMs);
        assert.ok(!e.message.includes(KEY));
      });
    }
    test(`${label}: hang past the timeout -> timeout; caller abort -> aborted`, async () => {
      api.faults.push({ kind: "hang" });
      await rejectsWith(make().call({ messages: [user("q")] }, { signal: AbortSignal.timeout(150) }), "timeout");
      api.faults.push({ kind: "hang_body" });
      await rejectsWith(make().call({ messages: [user("q")] }, { signal: AbortSignal.timeout(150) }), "timeout");
      api.faults.push({ kind: "hang" });
      const ac = new AbortController();
      setTimeout(() => ac.abort(), 100);
      await rejectsWith(make().call({ messages: [user("q")] }, { signal: ac.signal }), "aborted");
    });
  }

  test("anthropic 529 overloaded is a server error", async () => {
    api.faults.push({ kind: "status", status: 529 });
    await rejectsWith(anthropic().call({ messages: [user("q")] }, {}), "server");
  });

  test("Retry-After as an HTTP date", () => {
    const now = Date.parse("2030-01-01T00:00:00Z");
    const h = new Headers({ "retry-after": "Tue, 01 Jan 2030 00:00:03 GMT" });
    assert.equal(parseRetryAfter(h, now), 3000);
    assert.equal(parseRetryAfter(new Headers({ "retry-after": "soon" }), now), undefined);
    assert.equal(parseRetryAfter(new Headers({ "retry-after-ms": "250", "retry-after": "9" }), now), 250);
  });
});

describe("AnthropicProvider", () => {
  test("text, system, merged roles, no sampling params", async () => {
    api.messages = () => ({ text: "Bonjour", outputTokens: 2 });
    const r = await anthropic({ maxTokens: 100 }).call(
      { messages: [{ role: "system", content: "be brief" }, user("a"), user("b"), { role: "assistant", content: "c" }, user("d")], params: { temperature: 0.9, stop: ["END"] } },
      {},
    );
    assert.equal(r.text, "Bonjour");
    assert.equal(r.finishReason, "end_turn");
    assert.equal(r.usage.outputTokens, 2);
    const req = api.requestsTo("/v1/messages")[0]!;
    const body = req.body as MessagesBody;
    assert.deepEqual(body.system, [{ type: "text", text: "be brief" }]);
    assert.equal(body.messages!.length, 3);
    assert.deepEqual(body.messages![0], { role: "user", content: [{ type: "text", text: "a" }, { type: "text", text: "b" }] });
    assert.equal(body.max_tokens, 100);
    assert.deepEqual(body.stop_sequences, ["END"]);
    assert.equal("temperature" in body, false, "API 2026-10-21 rejects temperature");
    assert.ok(req.headers["anthropic-version"]);
    assert.ok(String(req.headers["x-api-key"] ?? req.headers.authorization).includes(KEY));
  });

  test("cache_control on the history block; cache writes then reads mapped to usage", async () => {
    const history = "Feedback history: " + "prefers concise answers. ".repeat(250); // ~1500 tokens
    const req = (q: string) => ({ messages: [{ role: "system" as const, content: "You are a judge." }, { role: "user" as const, content: history, cachePrefix: true }, user(q)] });
    const p = anthropic();
    const first = await p.call(req("Question one?"), {});
    const second = await p.call(req("Question two?"), {});
    const body = api.requestsTo("/v1/messages")[0]!.body as MessagesBody;
    const blocks = body.messages![0]!.content as { text: string; cache_control?: unknown }[];
    assert.deepEqual(blocks[0]!.cache_control, { type: "ephemeral" });
    assert.equal(blocks[1]!.cache_control, undefined);
    assert.ok(first.usage.cacheWriteTokens >= 1024, `write ${first.usage.cacheWriteTokens}`);
    assert.equal(first.usage.cachedInputTokens, 0);
    assert.ok(second.usage.cachedInputTokens >= 1024, `read ${second.usage.cachedInputTokens}`);
    assert.equal(second.usage.cacheWriteTokens, 0);
    assert.ok(second.usage.inputTokens > second.usage.cachedInputTokens, "inputTokens counts every input token");
  });

  test("a rendered prompt's cacheUntil splits it after the history; the shared history is read from cache", async () => {
    const history = "Example 1: " + "the user liked the concise answer. ".repeat(200);
    const prompt = (q: string) => {
      const content = `Task.\n${history}\n# END OF EXAMPLES\nInstruction: ${q}`;
      return { messages: [{ role: "user" as const, content, cacheUntil: content.indexOf("\n# END OF EXAMPLES") }] };
    };
    const p = anthropic();
    await p.call(prompt("first?"), {});
    const second = await p.call(prompt("second?"), {});
    const blocks = (api.requestsTo("/v1/messages")[1]!.body as MessagesBody).messages![0]!.content as { text: string; cache_control?: unknown }[];
    assert.equal(blocks.length, 2);
    assert.deepEqual(blocks[0]!.cache_control, { type: "ephemeral" });
    assert.ok(blocks[0]!.text.endsWith("answer. "));
    assert.ok(blocks[1]!.text.startsWith("\n# END OF EXAMPLES\nInstruction: second?"));
    assert.equal(blocks.map((b) => b.text).join(""), prompt("second?").messages[0]!.content, "the split loses nothing");
    assert.ok(second.usage.cachedInputTokens >= 1024, `read ${second.usage.cachedInputTokens}`);
  });

  test("at most 4 cache breakpoints are sent", async () => {
    const messages: ChatMessage[] = [];
    for (let i = 0; i < 6; i++) messages.push({ role: i % 2 ? "assistant" : "user", content: `turn ${i}`, cachePrefix: true });
    messages.push(user("last"));
    await anthropic().call({ messages }, {});
    const body = api.requestsTo("/v1/messages")[0]!.body as MessagesBody;
    const marked = body.messages!.flatMap((m) => (Array.isArray(m.content) ? m.content : [])).filter((b) => b.cache_control);
    assert.equal(marked.length, 4);
  });

  test("probabilities are unsupported; a configured temperature is refused", async () => {
    await rejectsWith(anthropic().call({ messages: [user("q")], probabilities: { candidates: ["A", "B"] } }, {}), "unsupported");
    assert.equal(anthropic().capabilities.tokenProbabilities, false);
    assert.throws(() => anthropic({ temperature: 0.9 }), (e) => e instanceof ProviderError && e.kind === "unsupported");
    assert.throws(() => anthropic({ apiKey: undefined }), (e) => e instanceof ProviderError && e.kind === "auth");
  });
});
