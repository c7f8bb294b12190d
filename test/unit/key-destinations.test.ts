/**
 * A key goes only where the user sent it (src/app/origins.ts through the run session): a base URL
 * read from a workspace file (a registered model in .preflab/models.json) gets the key only after
 * `--allow-origin` in the CLI; the same URL on the command line (--base-url) needs nothing.
 */
import assert from "node:assert/strict";
import { mkdirSync } from "node:fs";
import * as path from "node:path";
import { after, before, test } from "node:test";
import { main } from "../../src/cli/main.js";
import { registerModel } from "../../src/core/finetune/models.js";
import { FakeApiServer } from "../servers/fake-apis.js";
import { tempDir, writeJsonl } from "../helpers/tmp.js";

const KEY = "sk-compat-DESTINATION-0123456789";
const dir = tempDir("preflab-dest-");
let api: FakeApiServer;
before(async () => {
  api = await FakeApiServer.start();
});
after(async () => {
  await api.close();
  delete process.env.OPENAI_COMPATIBLE_API_KEY;
});

async function cli(args: string[], cwd: string) {
  let out = "";
  let err = "";
  const old = process.cwd();
  process.chdir(cwd);
  try {
    const code = await main(args, { out: (t) => (out += t), err: (t) => (err += t) });
    return { code, out, err };
  } finally {
    process.chdir(old);
  }
}

test("CLI: a registered model's server (a workspace file) gets the key only with --allow-origin; --base-url needs nothing", async () => {
  const root = path.join(dir, "ws");
  mkdirSync(root, { recursive: true });
  process.env.OPENAI_COMPATIBLE_API_KEY = KEY;
  await registerModel(root, { name: "planted", provider: "openai-compatible", model: "m", baseUrl: api.openaiBaseUrl, kind: "generation", createdAt: "2026-01-01T00:00:00Z" });
  const input = writeJsonl(path.join(root, "p.jsonl"), [{ id: "a", messages: [{ role: "user", content: "hi" }] }]);
  const origin = new URL(api.openaiBaseUrl).origin;

  const refused = await cli(["run-prompts", "--input", input, "--out", path.join(root, "r1"), "--model", "planted", "--no-cache"], root);
  assert.equal(refused.code, 1);
  assert.match(refused.err, /models\.json names http:\/\/127\.0\.0\.1:\d+ as the API server/);
  assert.ok(refused.err.includes(`--allow-origin ${origin}`), refused.err);
  assert.equal(api.requests.length, 0, "no request went to the file's server");

  const allowed = await cli(["run-prompts", "--input", input, "--out", path.join(root, "r2"), "--model", "planted", "--no-cache", "--allow-origin", origin], root);
  assert.equal(allowed.code, 0, allowed.err);
  assert.equal(api.requests.length, 1);
  assert.equal(api.requests[0]!.headers.authorization, `Bearer ${KEY}`);

  const flagged = await cli(["run-prompts", "--input", input, "--out", path.join(root, "r3"), "--provider", "openai-compatible", "--model", "m", "--base-url", api.openaiBaseUrl, "--no-cache"], root);
  assert.equal(flagged.code, 0, flagged.err);
  assert.equal(api.requests.length, 2);

  const bad = await cli(["run-prompts", "--input", input, "--out", path.join(root, "r4"), "--model", "planted", "--allow-origin", "file:///etc"], root);
  assert.equal(bad.code, 2);
  assert.match(bad.err, /--allow-origin/);
});
