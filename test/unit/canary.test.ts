/**
 * The canary: keys that look real go through every command path (build, rm, generate, judge, rs,
 * export, run-prompts, finetune launch/status/logs through the CLI `main()`; a template sample run
 * through the language server's code), against the wire-format test servers, which echo the key
 * they receive back into responses and errors (a hostile or buggy server). Afterwards no file in
 * the workspace (runs, caches, datasets, job records), no new file in the temp directory and no
 * printed line contains any of the keys: everything passed the one redactor.
 */
import assert from "node:assert/strict";
import { readdirSync, readFileSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import * as path from "node:path";
import { after, before, test } from "node:test";
import { ALLOW_ALL } from "../../src/app/gate.js";
import { resolveProviderConfig } from "../../src/app/provider.js";
import { main } from "../../src/cli/main.js";
import { runTemplateSample } from "../../src/server/sample-run.js";
import { FakeApiServer } from "../servers/fake-apis.js";
import { tempDir, writeJsonl } from "../helpers/tmp.js";

const CANARY = { OPENAI_API_KEY: "sk-CANARYopenai0123456789abcdef", ANTHROPIC_API_KEY: "sk-ant-CANARYanthropic0123456789", OPENAI_COMPATIBLE_API_KEY: "CANARYcompat-0123456789abcdef" };
const KEYS = Object.values(CANARY);
const ROOT = path.resolve(__dirname, "../..");
const ws = tempDir("preflab-canary-");
const started = Date.now();
let api: FakeApiServer;
const printed: string[] = [];
const io = { out: (t: string) => void printed.push(t), err: (t: string) => void printed.push(t) };
const saved: Record<string, string | undefined> = {};

before(async () => {
  // The server echoes whatever credential it got into every answer.
  api = await FakeApiServer.start({
    chat: (_b, req) => ({ text: `[[A]] echo ${req.headers.authorization ?? ""} [RESULT] 4` }),
    messages: (_b, req) => ({ text: `Feedback: key ${String(req.headers["x-api-key"] ?? req.headers.authorization ?? "")} [RESULT] 3` }),
  });
  for (const [k, v] of Object.entries(CANARY)) {
    saved[k] = process.env[k];
    process.env[k] = v;
  }
});
after(async () => {
  for (const [k, v] of Object.entries(saved)) if (v === undefined) delete process.env[k];
  else process.env[k] = v;
  await api.close();
});

async function cli(...args: string[]): Promise<void> {
  return cliAllowing([0], ...args);
}

/** `ok`: exit codes that count as having run the path (rs exits 1 when the echoing server gives no probabilities). */
async function cliAllowing(ok: number[], ...args: string[]): Promise<void> {
  const old = process.cwd();
  process.chdir(ws);
  try {
    const code = await main(args, io);
    assert.ok(ok.includes(code), `preflab ${args.join(" ")} exited ${code}: ${printed.slice(-3).join("")}`);
  } finally {
    process.chdir(old);
  }
}

/** Files under `dir` (recursively) whose contents hold a key; `since`: only files changed after it. */
function leaks(dir: string, since = 0): string[] {
  const out: string[] = [];
  const walk = (d: string) => {
    let names: string[];
    try {
      names = readdirSync(d);
    } catch {
      return;
    }
    for (const n of names) {
      const p = path.join(d, n);
      let st;
      try {
        st = statSync(p);
      } catch {
        continue;
      }
      if (st.isDirectory()) walk(p);
      else if (st.isFile() && st.mtimeMs >= since && st.size < 64 * 1024 * 1024) {
        let text: string;
        try {
          text = readFileSync(p, "latin1");
        } catch {
          continue;
        }
        for (const k of KEYS) if (text.includes(k)) out.push(`${p} holds ${k.slice(0, 12)}…`);
      }
    }
  };
  walk(dir);
  return out;
}

test("a canary key through every command path is never written or printed", { timeout: 600_000 }, async () => {
  const ds = path.join(ws, "ds");
  await cli("build", "--train", path.join(ROOT, "samples/train.jsonl"), "--test", path.join(ROOT, "samples/test.jsonl"), "--out", ds);
  await cli("rm", ds, "--provider", "openai", "--model", "gpt-4o-mini", "--base-url", api.openaiBaseUrl, "--limit", "1", "--out", path.join(ws, "runs/rm"));
  await cli("generate", ds, "--provider", "openai-compatible", "--model", "m", "--base-url", api.openaiBaseUrl, "--limit", "1", "--out", path.join(ws, "runs/gen"));
  await cli("judge", path.join(ws, "runs/gen"), "--judge-provider", "anthropic", "--judge-model", "claude-sonnet-4-5", "--judge-base-url", api.anthropicBaseUrl, "--out", path.join(ws, "runs/judge"));
  const prompts = writeJsonl(path.join(ws, "p.jsonl"), [{ id: "a", messages: [{ role: "user", content: "hi" }] }]);
  await cli("run-prompts", "--input", prompts, "--provider", "anthropic", "--model", "claude-sonnet-4-5", "--base-url", api.anthropicBaseUrl, "--out", path.join(ws, "runs/prompts"));
  await cliAllowing([0, 1], "rs", ds, "--rm-provider", "openai", "--rm-model", "gpt-4o-mini", "--rm-base-url", api.openaiBaseUrl, "--part", "a", "--split", "0.1", "--out", path.join(ws, "rs"));
  await cli("export", ds, "--format", "sft", "--target", "openai", "--out", path.join(ws, "export"), "--part", "a", "--split", "0.1");
  await cli("finetune", "launch", "--root", ws, "--backend", "openai", "--model", "gpt-4o-mini", "--train", path.join(ws, "export"), "--base-url", api.openaiBaseUrl, "--name", "canary-ft");
  const origin = new URL(api.openaiBaseUrl).origin;
  await cli("finetune", "status", "--root", ws, "--allow-origin", origin);
  await cli("finetune", "logs", "canary-ft", "--root", ws, "--allow-origin", origin);

  // The template sample run (language server / extension path), with the key from the environment.
  const resolved = await resolveProviderConfig({ provider: "openai", model: "gpt-4o-mini", baseUrl: api.openaiBaseUrl }, { getKey: () => CANARY.OPENAI_API_KEY });
  const text = readFileSync(path.join(ROOT, "src/core/templates/builtin", "reward-model.ptpl"), "utf8");
  await runTemplateSample({ text, datasetDir: ds, runsDir: path.join(ws, "runs"), n: 1, provider: resolved, gate: ALLOW_ALL });

  // The key was really sent (so the test could fail), and echoed back by the server.
  assert.ok(api.requests.some((r) => r.headers.authorization === `Bearer ${CANARY.OPENAI_API_KEY}`));
  assert.ok(api.requests.some((r) => r.headers["x-api-key"] === CANARY.ANTHROPIC_API_KEY || r.headers.authorization === `Bearer ${CANARY.ANTHROPIC_API_KEY}`));
  assert.ok(api.requests.some((r) => r.headers.authorization === `Bearer ${CANARY.OPENAI_COMPATIBLE_API_KEY}`));

  assert.deepEqual(leaks(ws), [], "no file in the workspace (datasets, runs, response cache, job records, exports)");
  // (tsx's compile cache holds this test's own source, constants included: not a leak.)
  const tsxCache = /[\\/]tsx-[^\\/]*[\\/]/;
  assert.deepEqual(leaks(tmpdir(), started).filter((l) => !l.startsWith(ws) && !tsxCache.test(l)), [], "no new file in the temp directory");
  const all = printed.join("");
  for (const k of KEYS) assert.ok(!all.includes(k), "nothing printed holds a key");
  const results = readFileSync(path.join(ws, "runs/prompts/results.jsonl"), "utf8");
  assert.match(results, /Feedback: key Bearer \[redacted\]|Feedback: key \[redacted\]/, "the echoed key reached the run file as [redacted]");
});
