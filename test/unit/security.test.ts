/**
 * The security building blocks every host uses: the key-destination policy (src/app/origins.ts),
 * the redactor (src/core/util/redact.ts), the path helper (src/core/util/safe-path.ts) and the
 * extension's trust gate (src/extension/trust.ts).
 */
import assert from "node:assert/strict";
import { mkdirSync, symlinkSync } from "node:fs";
import { tmpdir } from "node:os";
import * as path from "node:path";
import { test } from "node:test";
import { ALLOW_ALL, type RunGate } from "../../src/app/gate.js";
import { cliOriginStore, decideDestination, KeyDestinationPolicy, MemoryOriginStore, originOf, UntrustedOriginError, cliAllowHint } from "../../src/app/origins.js";
import { KEY_ENV_VARS, Redactor } from "../../src/core/util/redact.js";
import { assertInside, assertSafeSegment, childPath, segmentProblem, UnsafePathError } from "../../src/core/util/safe-path.js";
import { RestrictedModeError, workspaceTrustGate } from "../../src/extension/trust.js";
import { tempDir } from "../helpers/tmp.js";

test("originOf normalises scheme, host and default port, and refuses non-http schemes", () => {
  assert.equal(originOf("https://API.openai.com:443/v1?x=1"), "https://api.openai.com");
  assert.equal(originOf("http://127.0.0.1:8080/v1"), "http://127.0.0.1:8080");
  assert.throws(() => originOf("file:///etc/passwd"), UntrustedOriginError);
  assert.throws(() => originOf("javascript:alert(1)"), UntrustedOriginError);
  assert.throws(() => originOf("not a url"), UntrustedOriginError);
});

test("decideDestination: official endpoint, user setting and command line pass; a workspace-file origin needs confirmation", () => {
  const store = new MemoryOriginStore();
  assert.deepEqual(decideDestination({ key: "openai", url: undefined, source: "official" }, store), { allowed: true });
  assert.equal(decideDestination({ key: "openai", url: "http://10.0.0.1/v1", source: "user-setting" }, store).allowed, true);
  assert.equal(decideDestination({ key: "openai", url: "http://10.0.0.1/v1", source: "command-line" }, store).allowed, true);
  // A job record naming the official API needs no question.
  assert.equal(decideDestination({ key: "openai", url: "https://api.openai.com/v1", source: "workspace-file" }, store).allowed, true);
  const d = decideDestination({ key: "openai", url: "http://127.0.0.1:9/v1", source: "workspace-file", file: "jobs/x.json" }, store);
  assert.equal(d.allowed, false);
  assert.ok(!d.allowed && d.origin === "http://127.0.0.1:9" && d.reason.includes("jobs/x.json"));
  // The OpenAI origin does not stand in for the Anthropic key.
  assert.equal(decideDestination({ key: "anthropic", url: "https://api.openai.com", source: "workspace-file" }, store).allowed, false);
  // Keyless requests: allowed unless the host asks to confirm them too.
  assert.equal(decideDestination({ key: "none", url: "http://127.0.0.1:9", source: "workspace-file" }, store).allowed, true);
  assert.equal(decideDestination({ key: "none", url: "http://127.0.0.1:9", source: "workspace-file" }, store, { keylessNeedsConfirmation: true }).allowed, false);
  // Remembered per origin and key.
  store.add("openai", "http://127.0.0.1:9");
  assert.equal(decideDestination({ key: "openai", url: "http://127.0.0.1:9/other", source: "workspace-file" }, store).allowed, true);
  assert.equal(decideDestination({ key: "anthropic", url: "http://127.0.0.1:9", source: "workspace-file" }, store).allowed, false);
  assert.equal(decideDestination({ key: "openai", url: "http://127.0.0.1:10", source: "workspace-file" }, store).allowed, false);
});

test("KeyDestinationPolicy asks once per origin, remembers yes, refuses no; revoking asks again", async () => {
  const asked: string[] = [];
  let answer = true;
  const policy = new KeyDestinationPolicy({ gate: ALLOW_ALL, store: new MemoryOriginStore(), confirm: async (q) => (asked.push(`${q.key} ${q.origin}`), answer) });
  const req = { key: "openai" as const, url: "http://127.0.0.1:7000/v1", source: "workspace-file" as const, file: "f.json" };
  await policy.authorize(req);
  await policy.authorize(req);
  assert.deepEqual(asked, ["openai http://127.0.0.1:7000"]);
  await policy.store.remove("openai", "http://127.0.0.1:7000");
  answer = false;
  await assert.rejects(policy.authorize(req), (e: unknown) => e instanceof UntrustedOriginError && e.origin === "http://127.0.0.1:7000");
  assert.equal(asked.length, 2);
});

test("KeyDestinationPolicy checks the gate first: Restricted Mode never reaches the question", async () => {
  let asked = 0;
  const policy = new KeyDestinationPolicy({ gate: workspaceTrustGate(() => false), store: new MemoryOriginStore([{ key: "*", origin: "http://127.0.0.1:7000" }]), confirm: async () => (asked++, true) });
  await assert.rejects(policy.authorize({ key: "openai", url: "http://127.0.0.1:7000", source: "workspace-file" }), RestrictedModeError);
  await assert.rejects(policy.authorize({ key: "openai", url: undefined, source: "official" }), RestrictedModeError);
  assert.equal(asked, 0);
});

test("the CLI policy: refuses a file's origin with the --allow-origin hint; --allow-origin confirms it", async () => {
  const refuse = new KeyDestinationPolicy({ gate: ALLOW_ALL, store: cliOriginStore(undefined), allowHint: cliAllowHint });
  await assert.rejects(refuse.authorize({ key: "openai", url: "http://127.0.0.1:7000/v1", source: "workspace-file" }), /--allow-origin http:\/\/127\.0\.0\.1:7000/);
  const allow = new KeyDestinationPolicy({ gate: ALLOW_ALL, store: cliOriginStore(["http://127.0.0.1:7000"]), allowHint: cliAllowHint });
  await allow.authorize({ key: "openai", url: "http://127.0.0.1:7000/v1", source: "workspace-file" });
  assert.throws(() => cliOriginStore(["ftp://x"]), UntrustedOriginError);
});

test("Redactor knows every key variable, stored keys, encoded forms, and nested values", () => {
  assert.deepEqual([...KEY_ENV_VARS].sort(), ["ANTHROPIC_API_KEY", "OPENAI_API_KEY", "OPENAI_COMPATIBLE_API_KEY"]);
  const r = Redactor.fromEnvironment({ OPENAI_API_KEY: "sk-env-openai-123456", ANTHROPIC_API_KEY: "sk-ant-env-654321", OPENAI_COMPATIBLE_API_KEY: "compat key/+=1" });
  r.add("stored-secret-abcdef").add("short");
  assert.equal(r.redact("a sk-env-openai-123456 b sk-ant-env-654321 c stored-secret-abcdef short"), "a [redacted] b [redacted] c [redacted] short");
  assert.equal(r.redact(`q=${encodeURIComponent("compat key/+=1")}`), "q=[redacted]");
  const v = r.redactValue({ a: ["x sk-env-openai-123456"], b: { c: "stored-secret-abcdef" }, n: 3 });
  assert.deepEqual(v, { a: ["x [redacted]"], b: { c: "[redacted]" }, n: 3 });
  assert.equal(r.redactError(new Error("401 for key sk-env-openai-123456")), "401 for key [redacted]");
});

test("path helper: names cannot leave their folder", () => {
  for (const bad of ["..", ".", "../x", "a/b", "a\\b", "/etc/passwd", "C:evil", "a\0b", "CON", "nul.txt", "com1", "LPT9.log", "x.", "x ", "", "a\nb", "a:b"]) {
    assert.ok(segmentProblem(bad), `"${JSON.stringify(bad)}" should be refused`);
    assert.throws(() => assertSafeSegment(bad, "run name"), UnsafePathError);
  }
  for (const ok of ["rm-openai-gpt-4o-mini-20250101-000000", "ft-20250101-000000-abcdef", "my template.ptpl", "user_12"]) assert.equal(segmentProblem(ok), undefined);
  assert.equal(childPath("/runs", "abc"), path.join("/runs", "abc"));
  assert.throws(() => childPath("/runs", "../abc", "run name"), /run name "..\/abc" contains a path separator/);
});

test("path helper: a folder that is a symlink out of the workspace is refused; inside ones pass", async () => {
  const ws = tempDir("preflab-ws-");
  const outside = tempDir("preflab-out-");
  mkdirSync(path.join(ws, "data"));
  symlinkSync(outside, path.join(ws, "escape"));
  symlinkSync(path.join(ws, "data"), path.join(ws, "alias"));
  await assert.rejects(assertInside(ws, path.join(ws, "escape"), "dataset folder"), UnsafePathError);
  await assert.rejects(assertInside(ws, path.join(ws, "escape", "not-yet", "x"), "run folder"), UnsafePathError);
  await assert.rejects(assertInside(ws, tmpdir(), "run folder"), UnsafePathError);
  assert.ok((await assertInside(ws, path.join(ws, "alias"))).endsWith(path.join("data")));
  await assertInside(ws, path.join(ws, "data", "new-run"));
});

test("workspaceTrustGate: refuses all four actions while untrusted, with the reason; passes once trusted", () => {
  let trusted = false;
  const gate: RunGate = workspaceTrustGate(() => trusted);
  for (const a of ["network", "key", "model", "process"] as const) {
    assert.throws(() => gate.check(a, "Fine-tuning status"), (e: unknown) => e instanceof RestrictedModeError && /Restricted Mode/.test(e.message) && e.message.includes("Fine-tuning status"));
  }
  trusted = true;
  for (const a of ["network", "key", "model", "process"] as const) gate.check(a, "x");
});

test("webview messages are parsed by schema before the host acts; malformed ones are refused with the reason", async () => {
  const { parseWebviewMessage, TripleWebviewMessageSchema, DashboardWebviewMessageSchema } = await import("../../src/protocol/webview-schema.js");
  assert.deepEqual(parseWebviewMessage(TripleWebviewMessageSchema, { type: "openLink", href: "https://x.org" }), { ok: true, message: { type: "openLink", href: "https://x.org" } });
  for (const bad of [null, "x", { type: "openLink" }, { type: "openLink", href: 5 }, { type: "navigate", direction: "up", tripleId: "a" }, { type: "selectDimension", dimension: "evil" }, { type: "openRun", runDir: "a\0b" }, { type: "search", query: "x".repeat(3000) }, { type: "exec" }]) {
    const r = parseWebviewMessage(TripleWebviewMessageSchema, bad);
    assert.equal(r.ok, false, JSON.stringify(bad));
  }
  assert.equal(parseWebviewMessage(DashboardWebviewMessageSchema, { type: "export", format: "csv" }).ok, true);
  assert.equal(parseWebviewMessage(DashboardWebviewMessageSchema, { type: "export", format: "exe" }).ok, false);
});
