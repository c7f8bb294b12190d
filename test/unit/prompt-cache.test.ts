/**
 * Prompt caching with OpenAI: every request carrying a feedback history is sent with a
 * `prompt_cache_key` that is the same for prompts sharing that history (one user's prompts; with
 * fixed histories, every user of one preference) and different otherwise; the history comes
 * before everything that varies, so the shared prefix is an exact prompt prefix.
 */
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import * as path from "node:path";
import { buildDataset } from "../../src/core/data/builder.js";
import { planRm, runRm } from "../../src/core/eval/rm.js";
import { createProvider } from "../../src/core/providers/registry.js";
import { OpenAIProvider, promptCacheKey } from "../../src/core/providers/openai.js";
import { FakeApiServer, type ChatBody } from "../servers/fake-apis.js";
import { tempDir } from "../helpers/tmp.js";
import { testRunner } from "../helpers/eval.js";

const dir = tempDir();
const perExample = path.join(dir, "ds");
const fixed = path.join(dir, "ds-fixed");
let api: FakeApiServer;
before(async () => {
  api = await FakeApiServer.start({ chat: () => ({ text: "[[A]]" }) });
  await buildDataset({ train: "samples/train.jsonl", test: "samples/test.jsonl", out: perExample });
  await buildDataset({ train: "samples/train.jsonl", test: "samples/test.jsonl", out: fixed, historyMode: "fixed" });
});
after(() => api.close());

/** The history part of an rm prompt (between the template's markers). */
const historyOf = (text: string) => text.slice(text.indexOf("# START OF EXAMPLES"), text.indexOf("# END OF EXAMPLES"));

for (const [name, ds] of [["per-example histories", perExample], ["fixed histories", fixed]] as const) {
  test(`prompt_cache_key: one key per distinct history, shared by every prompt that has it (${name})`, async () => {
    const plan = await planRm(ds, { limit: 24 });
    const keyByHistory = new Map<string, string>();
    const historyByKey = new Map<string, string>();
    const usersByKey = new Map<string, Set<string>>();
    for (const item of plan.items) {
      const key = promptCacheKey(item.request)!;
      assert.match(key, /^preflab-[A-Za-z0-9_-]{32}$/);
      const msg = item.request.messages.find((m) => m.cacheUntil !== undefined)!;
      // The cached prefix ends right after the history; the instruction and responses follow it.
      assert.ok(msg.content.slice(msg.cacheUntil).includes("###The instruction to evaluate:"));
      const h = historyOf(msg.content);
      assert.equal(keyByHistory.get(h) ?? key, key, "the same history always gets the same key");
      assert.equal(historyByKey.get(key) ?? h, h, "one key never covers two histories");
      keyByHistory.set(h, key);
      historyByKey.set(key, h);
      usersByKey.set(key, (usersByKey.get(key) ?? new Set()).add(item.userKey!));
    }
    const shared = [...usersByKey.values()].filter((u) => u.size > 1).length;
    if (ds === fixed) assert.ok(shared > 0, "with fixed histories, users of one preference share a key");
    else assert.equal(shared, 0, "per-example histories: one key per user");
  });
}

test("prompt_cache_key reaches the wire through the OpenAI SDK (openai only, not openai-compatible)", async () => {
  api.requests.length = 0;
  const provider = await createProvider({ provider: "openai", model: "gpt-4o", apiKey: "sk-test-key", baseUrl: api.openaiBaseUrl });
  await runRm(fixed, { limit: 6 }, provider, testRunner(path.join(dir, "rm-wire"), provider));
  const plan = await planRm(fixed, { limit: 6 });
  const sent = api.requestsTo("/v1/chat/completions").map((r) => (r.body as ChatBody).prompt_cache_key as string);
  assert.equal(sent.length, plan.items.length);
  assert.deepEqual(new Set(sent), new Set(plan.items.map((i) => promptCacheKey(i.request))));
  const compat = new OpenAIProvider({ provider: "openai-compatible", model: "m", baseUrl: api.openaiBaseUrl }, "openai-compatible");
  assert.equal(compat.buildBody(plan.items[0]!.request).prompt_cache_key, undefined);
  assert.equal(new OpenAIProvider({ provider: "openai", model: "m", apiKey: "k" }).buildBody({ messages: [{ role: "user", content: "no history" }] }).prompt_cache_key, undefined);
});

test("rm under a tight budget: every prompt of a user keeps the same history pairs, so they share one prefix and one key", async () => {
  const { renderWithBudget } = await import("../../src/core/templates/budget.js");
  const { builtinTemplate } = await import("../../src/core/templates/template.js");
  const { Dataset } = await import("../../src/core/data/dataset.js");
  const maxInputTokens = 3500;
  const plan = await planRm(perExample, { limit: 24, maxInputTokens });
  const byUser = new Map<string, typeof plan.items>();
  for (const item of plan.items) byUser.set(item.userKey!, [...(byUser.get(item.userKey!) ?? []), item]);
  let wouldDiffer = 0;
  const ds = await Dataset.open(perExample);
  const tpl = builtinTemplate("reward-model");
  const htpl = builtinTemplate("history");
  for (const [userKey, items] of byUser) {
    const metas = plan.meta.filter((m) => m.userId === userKey);
    assert.equal(new Set(metas.map((m) => m.historyDropped)).size, 1, `${userKey}: one history for all its prompts`);
    const prefixes = new Set(items.map((i) => { const m = i.request.messages.find((x) => x.cacheUntil !== undefined)!; return m.content.slice(0, m.cacheUntil); }));
    assert.equal(prefixes.size, 1, `${userKey}: one cached prefix`);
    assert.equal(new Set(items.map((i) => promptCacheKey(i.request))).size, 1);
    assert.ok(items.every((i) => i.request.messages.reduce((n, m) => n + Math.ceil(m.content.length / 4) + 4, 0) <= maxInputTokens), "every prompt within the budget");
    // Rendered one by one, some users' prompts would keep different numbers of pairs.
    const user = (await ds.user(userKey))!;
    const own = items.map((i) => renderWithBudget(tpl, htpl, user.history, { instruction: i.request.task!.instruction, response_a: i.request.task!.responseA, response_b: i.request.task!.responseB }, maxInputTokens).dropped);
    if (new Set(own).size > 1) wouldDiffer++;
  }
  assert.ok(wouldDiffer > 0, "the budget is tight enough that prompts rendered alone would differ");
});
