/**
 * The editor side (src/extension/finetune.ts) in plain Node, with a stand-in `vscode` module:
 * the "Fine-tuning Jobs" tree lists jobs with status and model, polling moves an active OpenAI job
 * to success (against the wire-format test server), and the launch / status / logs / cancel
 * commands go through the core.
 */
import assert from "node:assert/strict";
import { existsSync, mkdirSync, writeFileSync } from "node:fs";
import Module from "node:module";
import * as path from "node:path";
import { after, before, test } from "node:test";
import { exportFinetuneData } from "../../src/core/finetune/export.js";
import { FakeApiServer } from "../servers/fake-apis.js";
import { sampleDataset } from "../fixtures/finetune/datasets.js";
import { stub } from "../fixtures/finetune/vscode-stub.js";
import { tempDir } from "../helpers/tmp.js";
import { KeyDestinationPolicy, MemoryOriginStore } from "../../src/app/origins.js";
import { RestrictedModeError, workspaceTrustGate } from "../../src/extension/trust.js";

// Resolve `vscode` to the stand-in before the extension module loads.
const resolver = Module as unknown as { _resolveFilename: (req: string, ...rest: unknown[]) => string };
const original = resolver._resolveFilename;
resolver._resolveFilename = (req, ...rest) => (req === "vscode" ? require.resolve("../fixtures/finetune/vscode-stub.js") : original(req, ...rest));

const KEY = "sk-EXT-FT-KEY-1234567890";
const dir = tempDir("preflab-ft-ext-");
let api: FakeApiServer;
let sft: string;

before(async () => {
  api = await FakeApiServer.start();
  sft = path.join(dir, "sft");
  await exportFinetuneData(await sampleDataset(dir), { format: "sft", target: "openai", out: sft, maxInputTokens: 1500 });
});
after(async () => {
  resolver._resolveFilename = original;
  await api.close();
});

test("tree, polling, and the launch / status / logs / cancel commands", async () => {
  const ext = await import("../../src/extension/finetune.js");
  const root = path.join(dir, "ws");
  const logs: string[] = [];
  const log = { info: (m: string) => logs.push(m), warn: (m: string) => logs.push(m), error: (m: string) => logs.push(m) };
  const core = await import("../../src/core/finetune/index.js");
  const gate = workspaceTrustGate(() => true);
  const policy = new KeyDestinationPolicy({ gate, store: new MemoryOriginStore(), confirm: async () => assert.fail("a job launched with the user's base URL needs no confirmation") });
  const { disposables, commands, feature } = ext.finetuneFeature({} as never, { log, gate, policy, workspaceRoot: () => root, getApiKey: async () => KEY, loadFinetune: () => import("../../src/core/finetune/index.js"), openaiBaseUrl: () => api.openaiBaseUrl, pollMs: 60_000 });
  assert.deepEqual(Object.keys(commands).sort(), [...ext.FINETUNE_COMMANDS].sort());
  assert.equal(stub.treeViews[0]!.id, "preflab.finetuneJobs");
  assert.deepEqual(await feature.tree.getChildren(), [], "no jobs yet");

  const job = await core.launchJob({ root, backend: "openai", model: "gpt-4o-mini", train: sft, name: "ext-sft", apiKey: KEY, baseUrl: api.openaiBaseUrl });
  feature.tree.refresh();
  const [node] = await feature.tree.getChildren();
  const item = feature.tree.getTreeItem(node!);
  assert.equal(item.label, "ext-sft");
  assert.match(String(item.description), /^queued \(validating_files\) · gpt-4o-mini$/);
  assert.equal(item.contextValue, "preflab.finetuneJob.active");
  const details = await feature.tree.getChildren(node);
  assert.ok(details.some((d) => feature.tree.getTreeItem(d).label === "status"));

  // Polling: validating_files -> running -> succeeded, then the registered model shows.
  await feature.poll();
  const polled = await feature.poll();
  assert.equal(polled[0]!.status, "succeeded");
  const doneItem = feature.tree.getTreeItem((await feature.tree.getChildren())[0]!);
  assert.match(String(doneItem.description), /^succeeded · ext-sft$/);
  assert.equal(doneItem.contextValue, "preflab.finetuneJob.done");
  assert.ok(stub.messages.some((m) => /succeeded; model "ext-sft" registered/.test(m)));

  // Logs: the job's events into the output channel.
  await commands["preflab.finetuneLogs"]!(node);
  assert.ok(stub.output.some((l) => /Created fine-tuning job/.test(l)));
  assert.ok(stub.output.some((l) => /successfully completed/.test(l)));

  // Status of one job from its tree item.
  const st = (await commands["preflab.finetuneStatus"]!(node)) as { id: string; status: string };
  assert.equal(st.id, job.id);

  // Launch from the palette: backend, data folder, model, name.
  stub.answers.push({ backend: "openai" }, [{ fsPath: sft }], "gpt-4o-mini", "palette-job");
  api.fineTuning.progress = ["validating_files", "running"];
  const launched = (await commands["preflab.finetuneLaunch"]!()) as { id: string; name: string; method: string; status: string };
  assert.deepEqual([launched.name, launched.method, launched.status], ["palette-job", "sft", "queued"]);
  assert.equal(stub.answers.length, 0, "every prompt answered");
  const listed = (await feature.tree.getChildren()).map((n) => feature.tree.getTreeItem(n).label);
  assert.deepEqual(listed.sort(), ["ext-sft", "palette-job"]);
  // Cancel it: pick it from the active jobs, confirm.
  stub.answers.push({ id: launched.id }, "Cancel Job");
  const cancelled = (await commands["preflab.finetuneCancel"]!()) as { status: string };
  assert.equal(cancelled.status, "cancelled");
  assert.ok(stub.messages.some((m) => /Cancel fine-tuning job "palette-job"/.test(m)));
  assert.ok(!logs.join("\n").includes(KEY));
  for (const d of disposables) d.dispose();
});

test("Restricted Mode: expanding the view and running every command sends nothing and starts nothing; trusted, a job file's origin is asked about first", async () => {
  const ext = await import("../../src/extension/finetune.js");
  const core = await import("../../src/core/finetune/index.js");
  const root = path.join(dir, "hostile");
  // A job record written by someone else: an active OpenAI job pointing at a listener they chose,
  // and a Slurm job naming a host.
  const hostile = await FakeApiServer.start();
  const job = await core.launchJob({ root, backend: "openai", model: "gpt-4o-mini", train: sft, name: "planted", apiKey: "sk-planter-0000000000", baseUrl: hostile.openaiBaseUrl });
  const slurm = { ...job, id: "ft-20250101-000000-abcdef", name: "planted-slurm", backend: "slurm" as const, remoteId: "42", openai: undefined, slurm: { host: "attacker.example", remoteDir: "x", script: "s", jobDir: "j" } };
  await core.saveJob(root, slurm);
  // Stand-in ssh / sky first on PATH: each run leaves a marker file.
  const bin = path.join(dir, "bin");
  const marker = path.join(dir, "ran-process");
  mkdirSync(bin, { recursive: true });
  for (const b of ["ssh", "sky"]) writeFileSync(path.join(bin, b), `#!/bin/sh\necho ${b} >> '${marker}'\n`, { mode: 0o755 });
  const oldPath = process.env.PATH;
  process.env.PATH = `${bin}${path.delimiter}${oldPath}`;
  hostile.requests.length = 0;

  let trusted = false;
  const gate = workspaceTrustGate(() => trusted);
  const asked: string[] = [];
  let answer = false;
  const policy = new KeyDestinationPolicy({ gate, store: new MemoryOriginStore(), keylessNeedsConfirmation: true, confirm: async (q) => (asked.push(q.origin), answer) });
  const logs: string[] = [];
  const log = { info: (m: string) => logs.push(m), warn: (m: string) => logs.push(m), error: (m: string) => logs.push(m) };
  stub.treeViews.length = 0;
  const { disposables, commands, feature } = ext.finetuneFeature({} as never, { log, gate, policy, workspaceRoot: () => root, getApiKey: async () => KEY, loadFinetune: () => import("../../src/core/finetune/index.js"), openaiBaseUrl: () => api.openaiBaseUrl, pollMs: 5 });

  try {
    // Expanding the view lists the records on disk and says why they are not refreshed.
    const listed = await feature.tree.getChildren();
    assert.deepEqual(listed.map((n) => feature.tree.getTreeItem(n).label).sort(), ["planted", "planted-slurm"]);
    const byName = (name: string) => listed.find((n) => feature.tree.getTreeItem(n).label === name)!;
    const nodes = [byName("planted"), byName("planted-slurm")];
    assert.match(String(stub.treeViews[0]!.view.message), /Restricted Mode/);
    await feature.poll();
    await new Promise((r) => setTimeout(r, 50)); // a 5 ms poll interval would have fired by now
    for (const id of ["preflab.finetuneStatus", "preflab.finetuneLogs", "preflab.finetuneCancel", "preflab.finetuneLaunch"] as const) {
      stub.answers.push({ id: job.id }, "Cancel Job");
      await assert.rejects(Promise.resolve(commands[id]!(nodes[0])), RestrictedModeError, id);
      stub.answers.length = 0;
    }
    await assert.rejects(Promise.resolve(commands["preflab.finetuneStatus"]!()), RestrictedModeError);
    await assert.rejects(Promise.resolve(commands["preflab.finetuneStatus"]!(nodes[1])), RestrictedModeError);
    assert.equal(hostile.requests.length, 0, "no request reached the job file's server");
    assert.deepEqual(asked, [], "Restricted Mode never even asks");
    assert.equal(existsSync(marker), false, "no ssh / sky process started");

    // Trusted: background polling skips the unconfirmed origin without asking; a command asks first.
    trusted = true;
    feature.showRestriction();
    assert.equal(stub.treeViews[0]!.view.message, undefined);
    await feature.poll();
    assert.equal(hostile.requests.length, 0, "polling never sends the key to an unconfirmed origin");
    assert.ok(logs.some((l) => /not sent there until you confirm/.test(l)));
    await assert.rejects(Promise.resolve(commands["preflab.finetuneStatus"]!(nodes[0])), /until you confirm/);
    assert.deepEqual(asked, [new URL(hostile.openaiBaseUrl).origin]);
    assert.equal(hostile.requests.length, 0, "declined: nothing sent");
    answer = true;
    await commands["preflab.finetuneStatus"]!(nodes[0]);
    assert.equal(asked.length, 2);
    assert.ok(hostile.requests.length > 0, "confirmed: the request went");
    assert.equal(hostile.requests[0]!.headers.authorization, `Bearer ${KEY}`);
    await commands["preflab.finetuneStatus"]!(nodes[0]);
    assert.equal(asked.length, 2, "remembered: asked once");

    // The Slurm record's host: polling (trusted) never runs ssh there unasked; a command asks first.
    assert.equal(existsSync(marker), false, "trusted polling ran no ssh to the job file's host");
    answer = false;
    await assert.rejects(Promise.resolve(commands["preflab.finetuneStatus"]!(nodes[1])), /until you confirm that host/);
    assert.equal(asked[2], "ssh://attacker.example");
    assert.equal(existsSync(marker), false, "declined: no ssh");
    answer = true;
    await Promise.resolve(commands["preflab.finetuneStatus"]!(nodes[1])).catch(() => undefined); // the stand-in ssh prints no job state
    assert.equal(asked.length, 4);
    assert.ok(existsSync(marker), "confirmed: ssh ran");
  } finally {
    process.env.PATH = oldPath;
    for (const d of disposables) d.dispose();
    await hostile.close();
  }
});
