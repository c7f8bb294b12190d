/**
 * The .ptpl language server over a real in-process LSP connection (two PassThrough streams):
 * diagnostics with ranges and codes, completion, hover, code lenses, folding, symbols and the
 * preview requests on the bundled sample dataset.
 */
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { existsSync, readFileSync } from "node:fs";
import * as path from "node:path";
import { PassThrough } from "node:stream";
import {
  createConnection,
  createMessageConnection,
  ProposedFeatures,
  ResponseError,
  StreamMessageReader,
  StreamMessageWriter,
  type CodeLens,
  type Connection,
  type CompletionItem,
  type CompletionList,
  type Diagnostic,
  type DocumentSymbol,
  type FoldingRange,
  type Hover,
  type MarkupContent,
  type MessageConnection,
  type PublishDiagnosticsParams,
  type TextEdit,
} from "vscode-languageserver/node";
import { buildDataset } from "../../src/core/data/builder.js";
import { Dataset } from "../../src/core/data/dataset.js";
import type { SyntheticUser } from "../../src/core/data/types.js";
import { planGeneration } from "../../src/core/eval/generation.js";
import { planRm } from "../../src/core/eval/rm.js";
import { messagesTokens } from "../../src/core/templates/budget.js";
import { KINDS, TEMPLATE_KINDS } from "../../src/core/templates/kinds.js";
import { startTemplateServer } from "../../src/server/connection.js";
import { runTemplateSample, SampleRunError, TEMPLATE_FILE } from "../../src/server/sample-run.js";
import { ALLOW_ALL } from "../../src/app/gate.js";
import { runnerSettings } from "../../src/app/session.js";
import { readResults } from "../../src/core/eval/runner.js";
import { parseTemplate } from "../../src/core/templates/template.js";
import { FakeApiServer, type ChatBody } from "../servers/fake-apis.js";
import {
  TEMPLATE_PREVIEW_METHOD,
  TEMPLATE_SUBJECTS_METHOD,
  type TemplatePreviewParams,
  type TemplatePreviewResult,
  type TemplateSubjectsParams,
  type TemplateSubjectsResult,
} from "../../src/protocol/templates.js";
import { tempDir } from "../helpers/tmp.js";

const ROOT = path.resolve(__dirname, "../..");
const BUILTIN = path.join(ROOT, "src/core/templates/builtin");

/** An LSP client over an in-process connection to the template server. */
class Client {
  readonly conn: MessageConnection;
  private readonly server: Connection;
  private readonly waiters = new Map<string, { version?: number; resolve: (d: Diagnostic[]) => void }[]>();
  private readonly latest = new Map<string, PublishDiagnosticsParams>();
  private versions = new Map<string, number>();
  private n = 0;

  constructor() {
    const up = new PassThrough();
    const down = new PassThrough();
    this.server = createConnection(ProposedFeatures.all, new StreamMessageReader(up), new StreamMessageWriter(down));
    startTemplateServer(this.server);
    this.conn = createMessageConnection(new StreamMessageReader(down), new StreamMessageWriter(up));
    this.conn.onNotification("textDocument/publishDiagnostics", (p: PublishDiagnosticsParams) => {
      this.latest.set(p.uri, p);
      const ws = this.waiters.get(p.uri) ?? [];
      this.waiters.set(
        p.uri,
        ws.filter((w) => {
          if (w.version !== undefined && p.version !== w.version) return true;
          w.resolve(p.diagnostics);
          return false;
        }),
      );
    });
    this.conn.onNotification("window/logMessage", () => {});
    this.conn.listen();
  }

  async initialize(initializationOptions: unknown = {}) {
    const res = await this.conn.sendRequest("initialize", { processId: null, rootUri: null, capabilities: {}, initializationOptions });
    await this.conn.sendNotification("initialized", {});
    return res as { capabilities: Record<string, unknown> };
  }

  /** Opens a document and resolves with the diagnostics published for it. */
  async open(text: string, uri = `file:///t/doc${++this.n}.ptpl`): Promise<{ uri: string; diagnostics: Diagnostic[] }> {
    this.versions.set(uri, 1);
    const got = this.nextDiagnostics(uri, 1);
    await this.conn.sendNotification("textDocument/didOpen", { textDocument: { uri, languageId: "ptpl", version: 1, text } });
    return got.then((diagnostics) => ({ uri, diagnostics }));
  }

  async change(uri: string, text: string): Promise<Diagnostic[]> {
    const version = (this.versions.get(uri) ?? 1) + 1;
    this.versions.set(uri, version);
    const got = this.nextDiagnostics(uri, version);
    await this.conn.sendNotification("textDocument/didChange", { textDocument: { uri, version }, contentChanges: [{ text }] });
    return got;
  }

  async close(uri: string): Promise<Diagnostic[]> {
    const got = this.nextDiagnostics(uri);
    await this.conn.sendNotification("textDocument/didClose", { textDocument: { uri } });
    return got;
  }

  private nextDiagnostics(uri: string, version?: number): Promise<Diagnostic[]> {
    return new Promise((resolve) => this.waiters.set(uri, [...(this.waiters.get(uri) ?? []), { version, resolve }]));
  }

  async completion(uri: string, line: number, character: number): Promise<CompletionItem[]> {
    const r = await this.conn.sendRequest<CompletionItem[] | CompletionList | null>("textDocument/completion", { textDocument: { uri }, position: { line, character } });
    return Array.isArray(r) ? r : (r?.items ?? []);
  }

  hover(uri: string, line: number, character: number): Promise<Hover | null> {
    return this.conn.sendRequest("textDocument/hover", { textDocument: { uri }, position: { line, character } });
  }

  request<P, R>(method: string, params: P): Promise<R> {
    return this.conn.sendRequest(method, params);
  }

  dispose() {
    this.conn.dispose();
    this.server.dispose();
  }
}

const fm = (kind: string, extra = "") => `---\nkind: ${kind}\nname: t\n${extra}---\n`;
const RM_OK = `${fm("reward-model")}@user\n{{feedback_history}}\nQ: {{instruction}}\nA: {{response_a}}\nB: {{response_b}}\nAnswer [[A]] or [[B]].\n`;
const msg = (d: Diagnostic | undefined) => (typeof d?.message === "string" ? d.message : (d?.message.value ?? ""));
const md = (h: Hover | null) => ((h?.contents as MarkupContent | undefined)?.value ?? "");
const byCode = (ds: Diagnostic[], code: string) => ds.filter((d) => d.code === code);
const rangeOf = (d: Diagnostic | undefined) => d && [d.range.start.line, d.range.start.character, d.range.end.line, d.range.end.character];
const editOf = (i: CompletionItem) => i.textEdit as TextEdit;

let client: Client;
before(async () => {
  client = new Client();
  const init = await client.initialize({ sampleSize: 3 });
  assert.ok(init.capabilities.completionProvider && init.capabilities.hoverProvider && init.capabilities.codeLensProvider);
});
after(() => client.dispose());

describe("diagnostics", () => {
  test("the built-in templates have none", async () => {
    for (const f of ["reward-model.ptpl", "generation.ptpl", "generation-plain.ptpl", "history.ptpl", "judge.ptpl"]) {
      const { diagnostics } = await client.open(readFileSync(path.join(BUILTIN, f), "utf8"));
      assert.deepEqual(diagnostics, [], f);
    }
  });

  test("front matter: missing, unterminated, not YAML, schema, unknown key", async () => {
    const missing = (await client.open("hello {{instruction}}")).diagnostics;
    assert.deepEqual(rangeOf(byCode(missing, "front-matter-missing")[0]), [0, 0, 0, 21]);
    assert.equal(byCode(missing, "front-matter-missing")[0]!.severity, 1);
    assert.equal(byCode(missing, "front-matter-missing")[0]!.source, "preflab");

    const unterminated = (await client.open("---\nkind: judge\nname: j\n")).diagnostics;
    assert.deepEqual(rangeOf(byCode(unterminated, "front-matter-unterminated")[0]), [0, 0, 0, 3]);

    const yaml = (await client.open("---\nkind: [judge\nname: j\n---\nx")).diagnostics;
    const y = byCode(yaml, "front-matter-yaml")[0];
    assert.ok(y, JSON.stringify(yaml));
    assert.ok(y.range.start.line >= 1 && y.range.start.line <= 2, JSON.stringify(y.range));
    assert.match(msg(y), /^front matter: /);

    const schema = (await client.open(RM_OK.replace("kind: reward-model", "kind: reward-modle").replace("name: t\n", "defaults:\n  temperature: 3\n  tempreature: 1\n"))).diagnostics;
    const s = byCode(schema, "front-matter-schema");
    const kindErr = s.find((d) => /kind:/.test(msg(d)));
    assert.deepEqual(rangeOf(kindErr), [1, 6, 1, 18], "the bad kind value");
    assert.deepEqual(rangeOf(s.find((d) => /name: required/.test(msg(d)))), [0, 0, 0, 3], "a missing key points at the opening ---");
    assert.deepEqual(rangeOf(s.find((d) => /defaults\.temperature/.test(msg(d)))), [3, 15, 3, 16], "the out-of-range number");
    assert.deepEqual(rangeOf(s.find((d) => /Unrecognized key/.test(msg(d)))), [4, 2, 4, 13], "the unknown defaults key");

    const unknownKey = (await client.open(RM_OK.replace("name: t\n", "name: t\ndescripton: typo\n"))).diagnostics;
    const u = byCode(unknownKey, "unknown-front-matter-key");
    assert.deepEqual(rangeOf(u[0]), [3, 0, 3, 10]);
    assert.equal(u[0]!.severity, 2, "a warning");
    assert.equal(unknownKey.length, 1);
  });

  test("placeholders: unterminated, bad name, unknown for the kind, required one missing", async () => {
    const { diagnostics } = await client.open(
      `${fm("reward-model")}@user\n{{feedback_history}} {{instruction\n{{response_a}} {{respons_b}} {{not a name}}\n[[A]] [[B]]\n`,
    );
    assert.deepEqual(rangeOf(byCode(diagnostics, "unterminated-placeholder")[0]), [5, 21, 5, 34]);
    assert.deepEqual(rangeOf(byCode(diagnostics, "unknown-placeholder")[0]), [6, 15, 6, 28]);
    assert.match(msg(byCode(diagnostics, "unknown-placeholder")[0]), /unknown placeholder \{\{respons_b\}\} for a reward-model template; known: feedback_history, preference, instruction, response_a, response_b/);
    assert.deepEqual(rangeOf(byCode(diagnostics, "bad-placeholder")[0]), [6, 29, 6, 43]);
    const missing = byCode(diagnostics, "missing-placeholder");
    assert.deepEqual(missing.map(msg).sort(), ["a reward-model template needs {{instruction}}", "a reward-model template needs {{response_b}}"]);
    assert.deepEqual(rangeOf(missing[0]), [4, 0, 4, 5], "at the first body line");
  });

  test("output format warnings, roles in a history template, text before a role, empty body", async () => {
    const rm = (await client.open(RM_OK.replace("Answer [[A]] or [[B]].", "Pick one."))).diagnostics;
    assert.equal(rm.length, 1);
    assert.equal(rm[0]!.code, "missing-output-format");
    assert.equal(rm[0]!.severity, 2);
    assert.match(msg(rm[0]), /\[\[A\]\]/);
    assert.deepEqual(rangeOf(rm[0]), [4, 0, 4, 5]);

    const judge = (await client.open(`${fm("judge")}{{instruction}} {{response}} {{reference_answer}} {{rubric}} score it`)).diagnostics;
    assert.deepEqual(judge.map((d) => d.code), ["missing-output-format"]);
    assert.match(msg(judge[0]), /\[RESULT\]/);

    const hist = (await client.open(`${fm("history")}@user\n{{example_id}} {{instruction}} {{preferred_response}} {{rejected_response}}`)).diagnostics;
    assert.deepEqual(rangeOf(byCode(hist, "role-in-history")[0]), [4, 0, 4, 5]);

    const before = (await client.open(`${fm("generation")}hello\n@user\n{{instruction}}`)).diagnostics;
    assert.deepEqual(rangeOf(byCode(before, "text-before-role")[0]), [4, 0, 4, 5]);

    const empty = (await client.open(`${fm("generation")}\n`)).diagnostics;
    assert.ok(byCode(empty, "empty-body")[0], JSON.stringify(empty));
    assert.ok(byCode(empty, "missing-placeholder")[0]);
  });

  test("republished on change, cleared on close", async () => {
    const { uri, diagnostics } = await client.open(RM_OK.replace("{{response_b}}", "{{response_c}}"));
    assert.deepEqual(diagnostics.map((d) => d.code).sort(), ["missing-placeholder", "unknown-placeholder"]);
    assert.deepEqual(await client.change(uri, RM_OK), []);
    const again = await client.change(uri, RM_OK.replace("{{instruction}}", "{{instruction"));
    assert.deepEqual(again.map((d) => d.code).sort(), ["missing-placeholder", "unterminated-placeholder"]);
    assert.deepEqual(await client.close(uri), []);
  });

  test("CRLF line endings keep the same positions", async () => {
    const { diagnostics } = await client.open(RM_OK.replace("{{response_b}}", "{{response_c}}").replace(/\n/g, "\r\n"));
    assert.deepEqual(rangeOf(byCode(diagnostics, "unknown-placeholder")[0]), [8, 3, 8, 17]);
  });
});

describe("completion", () => {
  test("inside {{ it offers the kind's placeholders, with descriptions and examples", async () => {
    for (const kind of TEMPLATE_KINDS) {
      const text = `${fm(kind)}${kind === "history" ? "" : "@user\n"}Text {{}}\n`;
      const { uri } = await client.open(text);
      const line = text.split("\n").findIndex((l) => l.startsWith("Text"));
      const items = await client.completion(uri, line, 7);
      assert.deepEqual(items.map((i) => i.label).sort(), Object.keys(KINDS[kind].placeholders).sort(), kind);
      for (const i of items) {
        const spec = KINDS[kind].placeholders[i.label]!;
        const doc = (i.documentation as MarkupContent).value;
        assert.ok(doc.includes(spec.description) && doc.includes(spec.example), `${kind} ${i.label}`);
        assert.deepEqual(editOf(i), { range: { start: { line, character: 7 }, end: { line, character: 7 } }, newText: i.label }, "the closing braces are already there");
      }
    }
  });

  test("a partly typed name is replaced and the braces closed; used placeholders sort last", async () => {
    const text = `${fm("generation")}@user\n{{instruction}}\n{{ feed\n`;
    const { uri } = await client.open(text);
    const items = await client.completion(uri, 6, 7);
    const fh = items.find((i) => i.label === "feedback_history")!;
    assert.deepEqual(editOf(fh), { range: { start: { line: 6, character: 3 }, end: { line: 6, character: 7 } }, newText: "feedback_history}}" });
    assert.match(fh.detail!, /optional · generation/);
    const instr = items.find((i) => i.label === "instruction")!;
    assert.ok(instr.sortText! > fh.sortText!, "instruction is already used");
    assert.match(instr.detail!, /already used/);
    // Not after an escaped \{{, nor after a closed placeholder.
    const { uri: u2 } = await client.open(`${fm("generation")}\\{{ins {{instruction}} x\n`);
    assert.deepEqual(await client.completion(u2, 4, 6), []);
    assert.deepEqual(await client.completion(u2, 4, 24), []);
  });

  test("without a known kind it offers every kind's placeholders", async () => {
    const { uri } = await client.open("---\nname: x\n---\n{{}}");
    const labels = (await client.completion(uri, 3, 2)).map((i) => i.label);
    const all = new Set(TEMPLATE_KINDS.flatMap((k) => Object.keys(KINDS[k].placeholders)));
    assert.deepEqual(new Set(labels), all);
  });

  test("front matter: the keys not yet written, defaults.* under defaults, and the kinds after kind:", async () => {
    const text = "---\nname: t\n\ndefaults:\n  temperature: 0.5\n  \nkind: \n---\n{{instruction}}";
    const { uri } = await client.open(text);
    const top = await client.completion(uri, 2, 0);
    assert.deepEqual(top.map((i) => i.label), ["description"], "name, defaults and kind are written");
    const sub = await client.completion(uri, 5, 2);
    assert.deepEqual(sub.map((i) => i.label), ["defaults.model", "defaults.maxTokens", "defaults.topP"]);
    assert.deepEqual(editOf(sub[1]!).newText, "maxTokens: ");
    const kinds = await client.completion(uri, 6, 6);
    assert.deepEqual(kinds.map((i) => i.label), [...TEMPLATE_KINDS]);
    assert.deepEqual(editOf(kinds[0]!), { range: { start: { line: 6, character: 6 }, end: { line: 6, character: 6 } }, newText: "reward-model" });
    assert.match((kinds[0]!.documentation as MarkupContent).value, /reward model/);

    const { uri: fresh } = await client.open("---\n\n---\n");
    const keys = await client.completion(fresh, 1, 0);
    assert.deepEqual(keys.map((i) => i.label), ["kind", "name", "description", "defaults"]);
    assert.equal(editOf(keys[0]!).newText, "kind: ");
    assert.match((keys[1]!.documentation as MarkupContent).value, /records it/);
  });

  test("role lines after @, and whole-template skeletons in an empty file", async () => {
    const { uri } = await client.open(`${fm("judge")}@\n`);
    const roles = await client.completion(uri, 4, 1);
    assert.deepEqual(roles.map((i) => i.label), ["@system", "@user", "@assistant"]);
    assert.deepEqual(editOf(roles[1]!).range, { start: { line: 4, character: 0 }, end: { line: 4, character: 1 } });
    const { uri: hist } = await client.open(`${fm("history")}@\n`);
    assert.deepEqual(await client.completion(hist, 4, 1), [], "a history template takes no role lines");

    const { uri: empty } = await client.open("");
    const skeletons = await client.completion(empty, 0, 0);
    assert.deepEqual(skeletons.map((i) => i.label), TEMPLATE_KINDS.map((k) => `${k} template`));
    // Each skeleton, with its snippet tab stops filled, is a template without diagnostics.
    for (const s of skeletons) {
      const text = editOf(s).newText.replace(/\$\{\d+:([^}]*)\}/g, "$1").replace(/\$\d/g, "");
      const { diagnostics } = await client.open(text);
      assert.deepEqual(diagnostics, [], s.label);
    }
  });
});

describe("hover", () => {
  test("placeholders: meaning and example; unknown ones name the known", async () => {
    const { uri } = await client.open(RM_OK.replace("{{response_b}}", "{{response}}"));
    const h = await client.hover(uri, 6, 6);
    assert.match(md(h), /\{\{instruction\}\}\*\* · required in a reward-model template/);
    assert.ok(md(h).includes(KINDS["reward-model"].placeholders.instruction!.description));
    assert.ok(md(h).includes(KINDS["reward-model"].placeholders.instruction!.example));
    assert.deepEqual(h!.range, { start: { line: 6, character: 3 }, end: { line: 6, character: 18 } });
    const u = await client.hover(uri, 8, 5);
    assert.match(md(u), /is not a placeholder of a reward-model template/);
    assert.match(md(u), /It is a placeholder of judge templates/);
    assert.equal(await client.hover(uri, 9, 1), null, "plain text");
  });

  test("front-matter keys, the kind value, role lines and verdict markers", async () => {
    const text = "---\nkind: judge\nname: j\ndefaults:\n  temperature: 0.2\nextra: 1\n---\n@user\n{{instruction}} {{response}} {{reference_answer}} {{rubric}} [RESULT]";
    const { uri } = await client.open(text);
    assert.match(md(await client.hover(uri, 1, 1)), /\*\*kind\*\* · required/);
    const kindValue = md(await client.hover(uri, 1, 8));
    assert.match(kindValue, /\*\*judge\*\* — Rubric judge/);
    assert.match(kindValue, /`\{\{reference_answer\}\}` \| required/);
    assert.match(kindValue, /\[RESULT\]/);
    assert.match(md(await client.hover(uri, 2, 2)), /\*\*name\*\* · required/);
    assert.match(md(await client.hover(uri, 4, 4)), /\*\*defaults\.temperature\*\* · optional · number 0\.\.2/);
    assert.match(md(await client.hover(uri, 5, 1)), /not a front-matter key/);
    assert.equal(await client.hover(uri, 4, 16), null, "a value other than kind's");
    assert.match(md(await client.hover(uri, 7, 2)), /Starts a \*\*user\*\* message/);
    assert.match(md(await client.hover(uri, 8, 68)), /\[RESULT\]\*\* — the judge writes its 1-5 score/);
  });
});

describe("code lenses, folding, symbols", () => {
  test("preview and run lenses at the top; a judge template has no run lens", async () => {
    const { uri } = await client.open(RM_OK);
    const lenses: CodeLens[] = await client.request("textDocument/codeLens", { textDocument: { uri } });
    assert.deepEqual(
      lenses.map((l) => [l.range.start.line, l.command?.title, l.command?.command, l.command?.arguments]),
      [
        [0, "Preview Rendered Prompt", "preflab.previewTemplate", [uri]],
        [0, "Run on 3 samples", "preflab.runTemplateSample", [uri, 3]],
      ],
    );
    const { uri: judge } = await client.open(readFileSync(path.join(BUILTIN, "judge.ptpl"), "utf8"));
    const jl: CodeLens[] = await client.request("textDocument/codeLens", { textDocument: { uri: judge } });
    assert.deepEqual(jl.map((l) => l.command?.command), ["preflab.previewTemplate"]);
  });

  test("front matter and role sections fold; the outline lists sections and headings", async () => {
    const { uri } = await client.open(readFileSync(path.join(BUILTIN, "judge.ptpl"), "utf8"));
    const folds: FoldingRange[] = await client.request("textDocument/foldingRange", { textDocument: { uri } });
    assert.deepEqual(folds.map((f) => [f.startLine, f.endLine]), [[0, 5], [6, 7], [8, 28]]);
    const symbols: DocumentSymbol[] = await client.request("textDocument/documentSymbol", { textDocument: { uri } });
    assert.deepEqual(symbols.map((s) => s.name), ["multifacet-absolute-judge", "@system", "@user"]);
    assert.deepEqual(symbols[2]!.children!.map((c) => c.name), ["Task Description:", "The instruction to evaluate:", "Response to evaluate:", "Reference Answer (Score 5):", "Score Rubrics:", "Feedback:"]);
  });
});

const workDir = tempDir("preflab-server-");
const SAMPLE_DATASET = path.join(workDir, "ds");
let built: Promise<unknown> | undefined;
/** The bundled sample, built once for the describes that need it. */
const sampleDataset = async () => {
  built ??= buildDataset({ train: path.join(ROOT, "samples/train.jsonl"), test: path.join(ROOT, "samples/test.jsonl"), out: SAMPLE_DATASET });
  await built;
  return SAMPLE_DATASET;
};

describe("preview requests on the bundled sample dataset", () => {
  const datasetDir = SAMPLE_DATASET;
  let users: SyntheticUser[];
  const preview = (p: Partial<TemplatePreviewParams> & { text: string }) => client.request<TemplatePreviewParams, TemplatePreviewResult>(TEMPLATE_PREVIEW_METHOD, { datasetDir, ...p });
  const builtin = (f: string) => readFileSync(path.join(BUILTIN, f), "utf8");

  before(async () => {
    await sampleDataset();
    users = [];
    for await (const u of (await Dataset.open(datasetDir)).users()) users.push(u);
  });

  test("subjects: the dataset's synthetic users", async () => {
    const r = await client.request<TemplateSubjectsParams, TemplateSubjectsResult>(TEMPLATE_SUBJECTS_METHOD, { datasetDir });
    assert.equal(r.subjects.length, users.length);
    assert.equal(r.truncated, false);
    assert.deepEqual(r.subjects[0]!.userId, users[0]!.id);
    assert.equal(r.subjects[0]!.historyPairs, users[0]!.history.length);
    assert.ok(r.subjects[0]!.instruction.length > 0 && r.subjects[0]!.preference.length > 0);
    const few = await client.request<TemplateSubjectsParams, TemplateSubjectsResult>(TEMPLATE_SUBJECTS_METHOD, { datasetDir, limit: 2 });
    assert.deepEqual([few.subjects.length, few.truncated], [2, true]);
  });

  test("reward model: the same prompt the evaluation sends, with the token count against 12,800", async () => {
    const u = users[0]!;
    const r = await preview({ text: builtin("reward-model.ptpl"), userId: u.id });
    const plan = await planRm(datasetDir, { orders: "ab", limit: 1 });
    const item = plan.items.find((i) => i.id === `${u.id}.vs${(u.member + 1) % 3}.ab`)!;
    assert.deepEqual(r.messages, item.request.messages.map((m) => ({ role: m.role, content: m.content })));
    assert.equal(r.tokens, messagesTokens(item.request.messages));
    assert.deepEqual([r.kind, r.templateName, r.userId, r.tripleId, r.dimension, r.maxInputTokens, r.overBudget], ["reward-model", "paper-b1-reward-model", u.id, u.tripleId, u.dimension, 12_800, false]);
    assert.deepEqual([r.historyKept, r.historyDropped], [u.history.length, 0]);
    assert.ok(r.notes.some((n) => /response_a: member \d's golden response \(chosen\)/.test(n)));
    // An oracle template previews what an --oracle run sends (the user's stated preference).
    const oracle = await preview({ text: builtin("reward-model-oracle.ptpl"), userId: u.id });
    const oraclePlan = await planRm(datasetDir, { orders: "ab", limit: 1, oracle: true });
    assert.deepEqual(oracle.messages, oraclePlan.items.find((i) => i.id === `${u.id}.vs${(u.member + 1) % 3}.ab`)!.request.messages.map((m) => ({ role: m.role, content: m.content })));
    // B first, and a tight budget drops the oldest pairs.
    const ba = await preview({ text: builtin("reward-model.ptpl"), userId: u.id, order: "ba", maxInputTokens: r.tokens - 1 });
    assert.ok(ba.historyDropped >= 1, JSON.stringify([ba.historyKept, ba.historyDropped]));
    assert.equal(ba.historyKept + ba.historyDropped, u.history.length);
    assert.ok(ba.tokens <= r.tokens - 1);
    assert.ok(ba.notes.some((n) => /response_b: member \d's golden response \(chosen\)/.test(n)));
    const tiny = await preview({ text: builtin("reward-model.ptpl"), userId: u.id, maxInputTokens: 10 });
    assert.deepEqual([tiny.overBudget, tiny.historyKept], [true, 0]);
  });

  test("generation (an unsaved buffer), judge and history templates", async () => {
    const u = users[1]!;
    const gen = await preview({ text: builtin("generation.ptpl"), tripleId: u.tripleId });
    const first = users.find((x) => x.tripleId === u.tripleId)!;
    assert.equal(gen.userId, first.id, "the first user of the triple");
    const plan = await planGeneration(datasetDir, { history: "with", dimensions: ["style", "background_knowledge", "informativeness", "harmlessness"] });
    const item = plan.items.find((i) => i.id === `${first.id}.h`)!;
    assert.deepEqual(gen.messages, item.request.messages.map((m) => ({ role: m.role, content: m.content })));

    const edited = builtin("generation.ptpl").replace("# Instruction", "# The new instruction (edited, unsaved)");
    assert.match((await preview({ text: edited, userId: u.id })).messages[0]!.content, /# The new instruction \(edited, unsaved\)\n/);

    const triple = (await (await Dataset.open(datasetDir)).triple(u.tripleId))!;
    const judge = await preview({ text: builtin("judge.ptpl"), userId: u.id });
    assert.deepEqual(judge.messages.map((m) => m.role), ["system", "user"]);
    const content = judge.messages[1]!.content;
    assert.ok(content.includes(triple.prompt));
    assert.ok(content.includes(`###Reference Answer (Score 5):\n${triple.members[u.member]!.response}`));
    const dimIndex = triple.members[u.member]!.preference_set.findIndex((e) => e.dimension === u.dimension);
    // The rubric as the MultiFacet authors serialize it: json.dumps(rubric, indent=4).
    assert.ok(content.includes(`###Score Rubrics:\n{\n    "criteria": ${JSON.stringify(triple.members[u.member]!.rubrics[dimIndex]!.criteria).replace(/[\u007f-\uffff]/g, (c) => "\\u" + c.charCodeAt(0).toString(16).padStart(4, "0"))},\n    "score_descriptions": {\n        "1": `));
    const other = await preview({ text: builtin("judge.ptpl"), userId: u.id, otherMember: (u.member + 2) % 3 });
    assert.ok(other.messages[1]!.content.includes(`###Response to evaluate:\n${triple.members[(u.member + 2) % 3]!.response}`));

    const hist = await preview({ text: builtin("history.ptpl"), userId: u.id });
    const h = u.history[0]!;
    assert.deepEqual(hist.messages, [{ role: "user", content: `Example 1:\n## Instruction\n${h.prompt}\n## Response liked by the user\n${h.chosen}\n## Response NOT liked by the user\n${h.rejected}` }]);
    assert.equal(hist.historyKept, 1);
  });

  test("errors come back as request failures with a message", async () => {
    const fails = async (p: Partial<TemplatePreviewParams> & { text: string }, re: RegExp) => {
      await assert.rejects(preview(p), (e: unknown) => e instanceof ResponseError && re.test(e.message));
    };
    await fails({ text: RM_OK.replace("{{response_b}}", "{{response_c}}") }, /the template has errors: line 9: unknown placeholder \{\{response_c\}\}.*\(and 1 more\)/);
    await fails({ text: RM_OK, userId: "nobody" }, /user nobody is not in the dataset/);
    await fails({ text: RM_OK, datasetDir: path.join(datasetDir, "nope") }, /not a Preflab dataset directory/);
    await fails({ text: RM_OK, userId: users[0]!.id, otherMember: users[0]!.member }, /otherMember must differ/);
    await fails({ text: RM_OK, historyTemplatePath: path.join(BUILTIN, "judge.ptpl") }, /expected a history template/);
  });
});

describe("Run on N samples", () => {
  const datasetDir = SAMPLE_DATASET;
  before(sampleDataset);
  const runsDir = path.join(workDir, "runs");
  const builtin = (f: string) => readFileSync(path.join(BUILTIN, f), "utf8");
  const now = new Date("2025-01-02T03:04:05.678Z");

  test("a reward-model template: the first N users, A/B order, with the baseline; the template is kept with the run", async () => {
    const text = builtin("reward-model.ptpl").replace("paper-b1-reward-model", "My RM v2");
    const r = await runTemplateSample({ text, datasetDir, runsDir, n: 2, provider: { config: { provider: "baseline" }, secrets: [] }, gate: ALLOW_ALL, now });
    assert.equal(r.runDir, path.join(runsDir, "template-my-rm-v2-20250102-030405Z"));
    assert.equal(readFileSync(path.join(r.runDir, TEMPLATE_FILE), "utf8"), text);
    const evalJson = JSON.parse(readFileSync(path.join(r.runDir, "eval.json"), "utf8"));
    assert.equal(evalJson.kind, "rm");
    assert.equal(evalJson.templates["reward-model"].hash, parseTemplate(text).template!.hash);
    assert.equal(evalJson.options.limit, 2);
    assert.equal(evalJson.options.orders, "ab");
    assert.equal((await readResults(r.runDir)).size, 4, "2 users x 2 pairs x 1 order");
    assert.deepEqual([r.kind, r.summary.status, r.summary.totals.failed], ["rm", "finished", 0]);
    assert.match(r.headline, /^My RM v2: accuracy \d+\.\d% over 4 verdict\(s\), 0 unparsable, 0 failed \(finished\)$/);
  });

  test("a history template runs the reward-model evaluation as its history template", async () => {
    const text = builtin("history.ptpl").replace("## Instruction", "## The user's instruction");
    const r = await runTemplateSample({ text, datasetDir, runsDir, n: 1, provider: { config: { provider: "baseline" }, secrets: [] }, gate: ALLOW_ALL, now });
    const evalJson = JSON.parse(readFileSync(path.join(r.runDir, "eval.json"), "utf8"));
    assert.equal(evalJson.templates.history.file, path.join(r.runDir, TEMPLATE_FILE));
    assert.equal(evalJson.templates["reward-model"].name, "paper-b1-reward-model");
    assert.equal((await readResults(r.runDir)).size, 2);
  });

  test("a generation template samples with its defaults through a model provider", async () => {
    const api = await FakeApiServer.start({ chat: (body: ChatBody) => ({ text: `echo ${String(body.messages?.length)}` }) });
    try {
      const text = builtin("generation.ptpl").replace("description:", "defaults: { temperature: 0.3, maxTokens: 77 }\ndescription:");
      const r = await runTemplateSample({
        text,
        datasetDir,
        runsDir,
        n: 2,
        provider: { config: { provider: "openai", model: "gpt-test", apiKey: "sk-test-key-123", baseUrl: api.openaiBaseUrl }, secrets: ["sk-test-key-123"] },
        gate: ALLOW_ALL,
        now,
      });
      assert.deepEqual([r.kind, r.summary.totals.done, r.summary.totals.failed], ["generate", 2, 0]);
      const bodies = api.requests.map((q) => q.body as { temperature?: number; max_tokens?: number; max_completion_tokens?: number; messages: { content: string }[] });
      assert.equal(bodies.length, 2);
      for (const b of bodies) {
        assert.equal(b.temperature, 0.3);
        assert.equal(b.max_completion_tokens ?? b.max_tokens, 77);
        assert.match(b.messages[0]!.content, /# START OF EXAMPLES\nExample 1:/);
      }
      assert.match(r.headline, /2 response\(s\) generated, 0 failed/);
      assert.ok(!readFileSync(path.join(r.runDir, "run.json"), "utf8").includes("sk-test-key-123"));
    } finally {
      await api.close();
    }
  });

  test("two servers with the same model name never share cached answers; configured rate limits apply", async () => {
    const one = await FakeApiServer.start({ chat: () => ({ text: "Final verdict: [[A]]" }) });
    const two = await FakeApiServer.start({ chat: () => ({ text: "Final verdict: [[B]]" }) });
    try {
      const cacheDir = path.join(runsDir, "shared-cache");
      const text = builtin("reward-model.ptpl");
      const at = (api: FakeApiServer, i: number) =>
        runTemplateSample({
          text,
          datasetDir,
          runsDir: path.join(runsDir, `scope-${i}`),
          n: 2,
          provider: { config: { provider: "openai-compatible", model: "same-name", baseUrl: api.openaiBaseUrl }, secrets: [] },
          gate: ALLOW_ALL,
          runner: runnerSettings({ cacheDir, maxRetries: 0, rpm: 6000 }),
          now,
        });
      const a = await at(one, 1);
      const b = await at(two, 2);
      assert.equal(a.summary.totals.done, 4);
      assert.equal(two.requests.length, 4, "the second server is asked: its answers are not the first one's, cached");
      assert.equal(b.summary.cache.hits, 0);
      const again = await at(one, 3);
      assert.equal(again.summary.cache.hits, 4, "the same server again: answered from the cache");
      assert.equal(one.requests.length, 4);
      const first = readFileSync(path.join(a.runDir, "results.jsonl"), "utf8");
      const second = readFileSync(path.join(b.runDir, "results.jsonl"), "utf8");
      assert.match(first, /\[\[A\]\]/);
      assert.match(second, /\[\[B\]\]/);
      assert.doesNotMatch(second, /\[\[A\]\]/);
    } finally {
      await one.close();
      await two.close();
    }
  });

  test("refusals: template errors, judge templates, generation with the baseline", async () => {
    const refuses = (text: string, re: RegExp) =>
      assert.rejects(runTemplateSample({ text, datasetDir, runsDir, n: 1, provider: { config: { provider: "baseline" }, secrets: [] }, gate: ALLOW_ALL }), (e: unknown) => e instanceof SampleRunError && re.test(e.message));
    await refuses(RM_OK.replace("{{response_b}}", "{{response_c}}"), /fix the template first: line 9: unknown placeholder/);
    await refuses(builtin("judge.ptpl"), /a judge template grades a generation run/);
    await refuses(builtin("generation.ptpl"), /the baseline only picks between two responses/);
  });
});

test("the bundled server (dist/server.js) answers over stdio", { skip: !existsSync(path.join(ROOT, "dist/server.js")) && "run npm run build first" }, async () => {
  const child = spawn(process.execPath, [path.join(ROOT, "dist/server.js"), "--stdio"], { stdio: ["pipe", "pipe", "inherit"] });
  const conn = createMessageConnection(new StreamMessageReader(child.stdout), new StreamMessageWriter(child.stdin));
  conn.listen();
  try {
    const diags = new Promise<PublishDiagnosticsParams>((resolve) => conn.onNotification("textDocument/publishDiagnostics", resolve));
    await conn.sendRequest("initialize", { processId: null, rootUri: null, capabilities: {} });
    await conn.sendNotification("initialized", {});
    await conn.sendNotification("textDocument/didOpen", { textDocument: { uri: "file:///x.ptpl", languageId: "ptpl", version: 1, text: RM_OK.replace("{{response_b}}", "{{response_c}}") } });
    assert.deepEqual((await diags).diagnostics.map((d) => d.code).sort(), ["missing-placeholder", "unknown-placeholder"]);
    await conn.sendRequest("shutdown");
    const exited = new Promise<number | null>((resolve) => child.once("exit", resolve));
    await conn.sendNotification("exit");
    assert.equal(await exited, 0);
  } finally {
    conn.dispose();
    child.kill();
  }
});
