/**
 * Links inside untrusted text (issue 12): the triple panel's `openLink` message (what a click on a
 * link in a model response, dataset row or judge feedback sends) shows a modal with the full URL
 * and opens the link only when the user picks "Open Link"; a `http://127.0.0.1:...` link is asked
 * about like any other; a non-http(s) link (javascript:, data:, file:, command:, vscode:) never
 * reaches a prompt or openExternal; malformed messages are dropped. The real TriplePanel runs in
 * plain Node with the stand-in `vscode` module and a fake webview panel.
 */
import assert from "node:assert/strict";
import { after, beforeEach, test } from "node:test";
import type { Services } from "../../src/extension/services.js";
import { useExtensionStubs } from "../helpers/extension-stubs.js";
import { stub } from "../fixtures/finetune/vscode-stub.js";

// `vscode` -> the stand-in; the core bundle -> its exports from source.
const restoreResolver = useExtensionStubs();
after(() => {
  restoreResolver();
});
beforeEach(() => {
  stub.answers.length = 0;
  stub.messages.length = 0;
  stub.details.length = 0;
  stub.opened.length = 0;
});

const none = { dispose: () => undefined };

/** The real triple panel over a fake webview; returns a function that delivers a webview message and waits for it to be handled. */
async function panel() {
  const { TriplePanel } = await import("../../src/extension/panels/triple-panel.js");
  let receive: ((raw: unknown) => void) | undefined;
  const warnings: string[] = [];
  const webview = {
    options: {},
    html: "",
    cspSource: "vscode-resource:",
    asWebviewUri: (u: unknown) => u,
    onDidReceiveMessage: (h: (raw: unknown) => void) => ((receive = h), none),
    postMessage: async () => true,
  };
  const fake = { webview, onDidDispose: () => none, reveal: () => undefined, visible: false, dispose: () => undefined };
  const s = {
    context: { extensionUri: { fsPath: "/ext", scheme: "file" }, workspaceState: { get: () => undefined, update: async () => undefined } },
    log: { warn: (m: string) => void warnings.push(m), info: () => undefined, error: () => undefined, redactor: { redactValue: (v: unknown) => v } },
    active: { onDidChange: () => none },
    dataset: { onDidChange: () => none, dir: undefined },
  } as unknown as Services;
  TriplePanel.revive(s, fake as never, undefined);
  assert.ok(receive, "the panel listens to its webview");
  const send = async (raw: unknown) => {
    receive!(raw);
    for (let i = 0; i < 5; i++) await new Promise((r) => setImmediate(r));
  };
  return { send, warnings };
}

test("a link from untrusted text opens only after a modal showing the full URL is confirmed", async () => {
  const { send } = await panel();
  const href = "http://127.0.0.1:8080/admin?token=abc#frag";
  stub.answers.push("Open Link");
  await send({ type: "openLink", href });
  assert.equal(stub.details.length, 1, "one modal");
  assert.ok(stub.details[0]!.startsWith(`${href}\n`), `the full URL first in the modal: ${stub.details[0]}`);
  assert.deepEqual(stub.opened, [href]);
});

test("declining (or dismissing) the modal opens nothing", async () => {
  const { send } = await panel();
  stub.answers.push(undefined);
  await send({ type: "openLink", href: "https://example.com/phish" });
  assert.equal(stub.details.length, 1);
  assert.ok(stub.details[0]!.includes("https://example.com/phish"));
  assert.deepEqual(stub.opened, []);
});

test("non-http(s) links never prompt and never open; links with credentials are refused", async () => {
  const { send, warnings } = await panel();
  const bad = ["javascript:alert(1)", "data:text/html,<script>alert(1)</script>", "file:///etc/passwd", "command:workbench.action.terminal.new", "vscode://ms-vscode.remote/x", "mailto:a@b.c", " JaVaScRiPt:alert(1)", "//evil.example/x", "relative/path", "http://user:pass@evil.example/"];
  for (const href of bad) {
    stub.answers.push("Open Link"); // would confirm, if asked
    await send({ type: "openLink", href });
  }
  assert.deepEqual(stub.details, [], "no prompt");
  assert.deepEqual(stub.opened, [], "nothing opened");
  assert.equal(warnings.length, bad.length, "each refusal is logged");
});

test("malformed openLink messages are dropped before any prompt", async () => {
  const { send, warnings } = await panel();
  for (const raw of [{ type: "openLink" }, { type: "openLink", href: 42 }, { type: "openLink", href: "https://x.example/\0" }, { type: "openLink", href: `https://x.example/${"a".repeat(9000)}` }]) {
    stub.answers.push("Open Link");
    await send(raw);
  }
  assert.deepEqual(stub.details, []);
  assert.deepEqual(stub.opened, []);
  assert.equal(warnings.filter((w) => w.includes("dropped a malformed message")).length, 4);
});
