import { test } from "node:test";
import assert from "node:assert/strict";
import { writeFileSync } from "node:fs";
import * as path from "node:path";
import { builtinTemplate, loadTemplate, parseTemplate, renderMessages, renderText, templateOfKind, TemplateError } from "../../src/core/templates/template.js";
import { renderHistory, renderWithBudget } from "../../src/core/templates/budget.js";
import { tempDir } from "../helpers/tmp.js";

const rm = (body: string, fm = "kind: reward-model\nname: t") => `---\n${fm}\n---\n${body}`;
const RM_BODY = "@user\n{{feedback_history}}\nQ: {{instruction}}\nA: {{response_a}}\nB: {{response_b}}\nSay [[A]] or [[B]].\n";

test("built-in templates load through the parser and render the paper's prompts", () => {
  const t = builtinTemplate("reward-model");
  assert.equal(t.kind, "reward-model");
  assert.match(t.hash, /^[0-9a-f]{64}$/);
  const msgs = renderMessages(t, { feedback_history: "HIST", instruction: "INSTR", response_a: "RA", response_b: "RB" });
  assert.equal(msgs.length, 1);
  assert.equal(msgs[0]!.role, "user");
  assert.match(msgs[0]!.content, /^###Task Description:\nIn each of the examples below/);
  assert.match(msgs[0]!.content, /# START OF EXAMPLES\nHIST\n# END OF EXAMPLES/);
  assert.match(msgs[0]!.content, /###Response A:\nRA\n\n###End of Response A/);
  assert.match(msgs[0]!.content, /"\[\[A\]\]" if response A is more likely preferred/);
  assert.equal(msgs[0]!.content.slice(0, msgs[0]!.cacheUntil), msgs[0]!.content.slice(0, msgs[0]!.content.indexOf("HIST") + 4), "cache prefix ends after the history");
  const judge = builtinTemplate("judge");
  const jm = renderMessages(judge, { instruction: "I", response: "R", reference_answer: "REF", rubric: "RUB" });
  assert.deepEqual(jm.map((m) => m.role), ["system", "user"]);
  assert.match(jm[1]!.content, /\[RESULT\]/);
  assert.equal(builtinTemplate("generation").kind, "generation");
  assert.deepEqual(renderMessages(builtinTemplate("generation-plain"), { instruction: "Hi" }), [{ role: "user", content: "Hi" }]);
  const h = renderText(builtinTemplate("history"), { example_id: "2", instruction: "I", preferred_response: "Y+", rejected_response: "Y-" });
  assert.equal(h, "Example 2:\n## Instruction\nI\n## Response liked by the user\nY+\n## Response NOT liked by the user\nY-");
});

test("unknown and missing placeholders fail with file, line and column", () => {
  const dir = tempDir();
  const f = path.join(dir, "bad.ptpl");
  writeFileSync(f, rm("@user\n{{feedback_history}} {{instruction}}\n{{response_a}} {{respons_b}}\n[[A]] [[B]]"));
  assert.throws(() => loadTemplate(f), (e: Error) => e instanceof TemplateError && /bad\.ptpl:7:16: unknown placeholder \{\{respons_b\}\}/.test(e.message));
  const res = parseTemplate(rm("@user\n{{feedback_history}} {{instruction}}\n{{response_a}}\n[[A]] [[B]]"), "m.ptpl");
  assert.ok(res.diagnostics.some((d) => d.code === "missing-placeholder" && /needs \{\{response_b\}\}/.test(d.message)));
  assert.equal(res.template, undefined);
});

test("diagnostics: unterminated {{, bad front matter, missing verdict format, roles in history", () => {
  const un = parseTemplate(rm("@user\n{{feedback_history}} {{instruction\n{{response_a}} {{response_b}} [[A]] [[B]]"));
  const d = un.diagnostics.find((x) => x.code === "unterminated-placeholder")!;
  assert.deepEqual(d.start, { line: 5, col: 21 });
  const fm = parseTemplate(rm(RM_BODY, "kind: reward-modle\nname: t"));
  assert.ok(fm.diagnostics.some((x) => x.code === "front-matter-schema" && x.start.line === 1), JSON.stringify(fm.diagnostics));
  const noName = parseTemplate(rm(RM_BODY, "kind: judge"));
  assert.ok(noName.diagnostics.some((x) => /name: required/.test(x.message)));
  const noVerdict = parseTemplate(rm("@user\n{{feedback_history}}{{instruction}}{{response_a}}{{response_b}} pick one"));
  assert.ok(noVerdict.template, "a missing verdict format is a warning, not an error");
  assert.ok(noVerdict.diagnostics.some((x) => x.severity === "warning" && x.code === "missing-output-format"));
  const judgeNoResult = parseTemplate("---\nkind: judge\nname: j\n---\n{{instruction}}{{response}}{{reference_answer}}{{rubric}} score it");
  assert.ok(judgeNoResult.diagnostics.some((x) => x.code === "missing-output-format"));
  const hist = parseTemplate("---\nkind: history\nname: h\n---\n@user\n{{example_id}}{{instruction}}{{preferred_response}}{{rejected_response}}");
  assert.ok(hist.diagnostics.some((x) => x.code === "role-in-history"));
  const yamlBad = parseTemplate("---\nkind: [judge\n---\nx");
  assert.ok(yamlBad.diagnostics.some((x) => x.code === "front-matter-yaml"));
  assert.ok(parseTemplate("no front matter").diagnostics.some((x) => x.code === "front-matter-missing"));
});

test("escaped braces are literal, roles split messages, defaults are read", () => {
  const t = parseTemplate(
    "---\nkind: generation\nname: g\ndefaults:\n  temperature: 0.2\n  maxTokens: 64\n---\n@system\nUse \\{{curly}} braces.\n@user\n{{instruction}}\n\n",
  ).template!;
  assert.deepEqual(t.defaults, { temperature: 0.2, maxTokens: 64 });
  assert.deepEqual(renderMessages(t, { instruction: "Go" }), [
    { role: "system", content: "Use {{curly}} braces." },
    { role: "user", content: "Go" },
  ]);
  assert.throws(() => renderMessages(t, {}), /no value for \{\{instruction\}\}/);
  assert.ok(parseTemplate("---\nkind: generation\nname: g\n---\nhello\n@user\n{{instruction}}").diagnostics.some((x) => x.code === "text-before-role"));
});

test("templateOfKind refuses a template of another kind", () => {
  const dir = tempDir();
  const f = path.join(dir, "g.ptpl");
  writeFileSync(f, "---\nkind: generation\nname: g\n---\n{{instruction}}");
  assert.throws(() => templateOfKind(f, "judge", "judge"), /expected a judge template, this one is kind generation/);
  assert.equal(templateOfKind(undefined, "judge", "judge").name, "multifacet-absolute-judge");
});

test("a token budget drops the oldest history pairs first and records how many", () => {
  const t = parseTemplate(rm(RM_BODY)).template!;
  const ht = builtinTemplate("history");
  const history = Array.from({ length: 10 }, (_, i) => ({ prompt: `instr ${i}`, chosen: "x".repeat(400), rejected: `old${i} ` + "y".repeat(400) }));
  const full = renderWithBudget(t, ht, history, { instruction: "I", response_a: "a", response_b: "b" }, 100_000);
  assert.equal(full.dropped, 0);
  assert.equal(full.kept, 10);
  const one = renderHistory(ht, history.slice(0, 1));
  const budget = full.tokens - Math.ceil(one.length / 4) * 3;
  const cut = renderWithBudget(t, ht, history, { instruction: "I", response_a: "a", response_b: "b" }, budget);
  assert.ok(cut.dropped >= 3 && cut.dropped <= 4, `dropped ${cut.dropped}`);
  assert.ok(cut.tokens <= budget);
  assert.equal(cut.kept + cut.dropped, 10);
  assert.ok(!cut.messages[0]!.content.includes("old0 "), "the oldest pair went first");
  assert.ok(cut.messages[0]!.content.includes("old9 "), "the newest pair stays");
  assert.match(cut.messages[0]!.content, /Example 1:\n## Instruction\ninstr \d/, "renumbered from 1");
  const tiny = renderWithBudget(t, ht, history, { instruction: "I", response_a: "a".repeat(4000), response_b: "b" }, 50);
  assert.equal(tiny.overBudget, true);
  assert.equal(tiny.kept, 0);
});

test("a reward-model template names its own verdict format: the warning, the evaluation's prefix and the parser agree", async () => {
  const { templateVerdictFormat } = await import("../../src/core/eval/rm.js");
  const { parseVerdict } = await import("../../src/core/eval/parse.js");
  const angle = parseTemplate(rm("@user\n{{feedback_history}}\n{{instruction}}\n{{response_a}}\n{{response_b}}\nEnd with <A> or <B>."));
  assert.ok(!angle.diagnostics.some((d) => d.code === "missing-output-format"), JSON.stringify(angle.diagnostics));
  const f = templateVerdictFormat(angle.template!);
  assert.deepEqual(f, { prefix: "<", suffix: ">" });
  assert.equal(parseVerdict("Thinking... <B>", f), "B");
  assert.deepEqual(templateVerdictFormat(builtinTemplate("reward-model")), { prefix: "[[", suffix: "]]" }, "B.1");
  const none = parseTemplate(rm("@user\n{{feedback_history}}\n{{instruction}}\n{{response_a}}\n{{response_b}}\nWhich is better, A or B?"));
  assert.ok(none.diagnostics.some((d) => d.code === "missing-output-format" && /name its verdict format/.test(d.message)));
  assert.equal(templateVerdictFormat(none.template!), undefined);
});
