/**
 * Table 1's fine-tuned rows: `preflab rm` with a served scalar reward model (provider
 * scalar-reward, against a vLLM-shaped test server). Each response is scored on the input the
 * reward model was trained on (`export --format rm`'s rendering), accuracy = r(chosen) >
 * r(rejected), hand-checked; the report labels the row; vLLM's /pooling shape and any JSON endpoint
 * are settings; a registered reward model is usable by its name.
 */
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import * as path from "node:path";
import { buildDataset } from "../../src/core/data/builder.js";
import { Dataset } from "../../src/core/data/dataset.js";
import type { SyntheticUser, Triple } from "../../src/core/data/types.js";
import { runRm } from "../../src/core/eval/rm.js";
import { renderHistoryPrompt, trainingLine } from "../../src/core/finetune/formats.js";
import { builtinTemplate } from "../../src/core/templates/template.js";
import { createProvider } from "../../src/core/providers/registry.js";
import { resolveProviderConfig } from "../../src/app/provider.js";
import { readRunJson } from "../../src/core/eval/runner.js";
import { main } from "../../src/cli/main.js";
import { ScalarRewardServer } from "../servers/scalar-reward.js";
import { tempDir } from "../helpers/tmp.js";
import { testRunner } from "../helpers/eval.js";

const dir = tempDir();
const ds = path.join(dir, "ds");
let server: ScalarRewardServer;
/** The served model's reward: a deterministic function of the response and of the history it sees. */
const reward = (conv: { role: string; content: string }[]): number => {
  const text = conv.at(-1)!.content + "|" + conv[0]!.content.length;
  let h = 0;
  for (const ch of text) h = (h * 31 + ch.charCodeAt(0)) % 1009;
  return h / 100;
};
const LIMIT = 24;

before(async () => {
  server = await ScalarRewardServer.start({ model: "llama-rm", reward });
  await buildDataset({ train: "samples/train.jsonl", test: "samples/test.jsonl", out: ds });
});
after(() => server.close());

async function usersAndTriples(): Promise<{ users: SyntheticUser[]; triples: Map<string, Triple> }> {
  const data = await Dataset.open(ds);
  const users: SyntheticUser[] = [];
  for await (const u of data.users()) if (users.length < LIMIT) users.push(u);
  const triples = new Map<string, Triple>();
  for await (const t of data.triples()) triples.set(t.id, t);
  return { users, triples };
}

test("preflab rm --provider scalar-reward: the exporter's input, r(chosen) > r(rejected), a labelled Table 1 row", async () => {
  const out: string[] = [];
  const err: string[] = [];
  const runDir = path.join(dir, "rm-scalar");
  const code = await main(["rm", ds, "--provider", "scalar-reward", "--base-url", server.url, "--model", "llama-rm", "--out", runDir, "--limit", String(LIMIT), "--no-cache"], {
    out: (s) => void out.push(s),
    err: (s) => void err.push(s),
  });
  assert.equal(code, 0, err.join(""));

  // By hand: the same rendering as `export --format rm` (B.2 + B.3 history, response as the assistant turn).
  const { users, triples } = await usersAndTriples();
  const byDim = new Map<string, number[]>();
  let requestsExpected = 0;
  for (const u of users) {
    const t = triples.get(u.tripleId)!;
    const prompt = renderHistoryPrompt(u.history, t.prompt, builtinTemplate("generation"), builtinTemplate("history"), 12_800).messages;
    requestsExpected += 3;
    for (let k = 0; k < 3; k++) {
      if (k === u.member) continue;
      const line = trainingLine("rm", "trl", prompt, t.members[u.member]!.response, t.members[k]!.response) as { chosen: { role: string; content: string }[]; rejected: { role: string; content: string }[] };
      // The server saw exactly these conversations.
      for (const conv of [line.chosen, line.rejected]) assert.ok(server.requests.some((r) => JSON.stringify(r.body.messages) === JSON.stringify(conv)), `${u.id}: the exported conversation was scored`);
      byDim.set(u.dimension, [...(byDim.get(u.dimension) ?? []), reward(line.chosen) > reward(line.rejected) ? 1 : 0]);
    }
  }
  assert.equal(server.requests.length, requestsExpected, "each response scored once per user");
  assert.ok(server.requests.every((r) => r.path === "/classify" && r.body.model === "llama-rm"));

  const stdout = out.join("");
  const row = stdout.split("\n").find((l) => l.startsWith("rm-scalar ("))!;
  assert.ok(row, stdout);
  assert.match(row, /^rm-scalar \(scalar-reward\/llama-rm\) \[scalar RM: r\(chosen\) > r\(rejected\)\]/);
  const accs = [...byDim.entries()].map(([, xs]) => ((100 * xs.reduce((a, b) => a + b, 0)) / xs.length).toFixed(2));
  for (const a of accs) assert.ok(row.includes(`${a} [`), `${a} in ${row}`);
  assert.ok(accs.some((a) => a !== "0.00" && a !== "100.00"), "a non-degenerate accuracy");
  const rj = await readRunJson(runDir);
  assert.equal((rj!.params as { protocol: { rmScoring: string } }).protocol.rmScoring, "scalar");
});

test("vLLM /pooling and any JSON endpoint by URL + score path; a registered reward model by its name", async () => {
  const { users, triples } = await usersAndTriples();
  const u = users[0]!;
  const t = triples.get(u.tripleId)!;
  const prompt = renderHistoryPrompt(u.history, t.prompt, builtinTemplate("generation"), builtinTemplate("history"), 12_800).messages;
  const want = reward([...prompt, { role: "assistant", content: t.members[u.member]!.response }]);
  for (const [endpointPath, scorePath] of [["/pooling", "data.0.data.0"], ["/score-any", "result.reward"]] as const) {
    const p = await createProvider({ provider: "scalar-reward", model: "llama-rm", baseUrl: server.url, endpointPath, scorePath });
    const r = await p.call({ messages: [...prompt, { role: "assistant", content: t.members[u.member]!.response }] }, {});
    assert.equal(Number(r.text), want, endpointPath);
    assert.equal(server.requests.at(-1)!.path, endpointPath);
  }
  // A wrong score path is a malformed answer, never a number.
  const bad = await createProvider({ provider: "scalar-reward", model: "llama-rm", baseUrl: server.url, scorePath: "data.0.score" });
  await assert.rejects(bad.call({ messages: [{ role: "user", content: "x" }] }, {}), /no number at "data.0.score"/);

  // .preflab/models.json: `--model llama-rm-v1` brings provider, model and server.
  const root = path.join(dir, "ws");
  mkdirSync(path.join(root, ".preflab"), { recursive: true });
  writeFileSync(path.join(root, ".preflab", "models.json"), JSON.stringify({ version: 1, models: [{ name: "llama-rm-v1", provider: "scalar-reward", model: "llama-rm", baseUrl: server.url, kind: "reward", method: "rm", createdAt: "2026-01-01T00:00:00Z" }] }));
  const resolved = await resolveProviderConfig({ model: "llama-rm-v1" }, { root });
  assert.equal(resolved.config.provider, "scalar-reward");
  assert.equal(resolved.config.baseUrl, server.url);
  assert.equal(resolved.registered?.name, "llama-rm-v1");
  assert.equal(resolved.registered?.kind, "reward");
  const provider = await createProvider(resolved.config);
  const runDir = path.join(dir, "rm-registered");
  const { report } = await runRm(ds, { limit: 6, dimensions: ["style"] }, provider, testRunner(runDir, provider));
  assert.equal(report.byDimension.style!.n, 12, "6 users x 2 pairs, one item each");
  assert.equal(report.overall.failed, 0);
  const ev = JSON.parse(readFileSync(path.join(runDir, "eval.json"), "utf8")) as { options: { scoring: string }; templates: Record<string, unknown> };
  assert.equal(ev.options.scoring, "scalar");
  assert.deepEqual(Object.keys(ev.templates).sort(), ["generation", "history"]);
  // A scalar reward model cannot generate.
  await assert.rejects(import("../../src/core/eval/generation.js").then((g) => g.runGeneration(ds, { limit: 1 }, provider, testRunner(path.join(dir, "gen-x"), provider))), /scalar reward model/);
});
