/**
 * The official MultiFacet judge (kaistAI/Janus): the built-in judge prompt byte for byte against a
 * fixture rendered by the authors' own code path (run_eval_openai.py prepare_inputs: template
 * .format(...).strip(), rubric json.dumps(indent=4)), their parser's behaviour on their test cases
 * and on the corners where Python's regex semantics differ from JavaScript's, and a judge run that
 * sends their sampling parameters and re-asks as often as they do.
 */
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import * as path from "node:path";
import { builtinTemplate, renderMessages } from "../../src/core/templates/template.js";
import { formatRubric, runJudge, planJudge, type JudgeResultLine } from "../../src/core/eval/judge.js";
import { JANUS_SAMPLING, parseJudgeScoreJanus, pythonJsonDumps } from "../../src/core/eval/janus.js";
import { parseJudgeScore } from "../../src/core/eval/parse.js";
import type { Rubric } from "../../src/core/data/schema.js";
import { buildDataset } from "../../src/core/data/builder.js";
import { runGeneration } from "../../src/core/eval/generation.js";
import { readRunJson } from "../../src/core/eval/runner.js";
import { buildReport, formatReport } from "../../src/core/metrics/report.js";
import { createProvider } from "../../src/core/providers/registry.js";
import type { Provider } from "../../src/core/providers/types.js";
import { FakeApiServer, type ChatBody } from "../servers/fake-apis.js";
import { tempDir } from "../helpers/tmp.js";
import { testRunner } from "../helpers/eval.js";

const FIX = path.join("test", "fixtures", "judge");

test("the built-in judge renders the MultiFacet authors' prompt byte for byte (fixture from their code path)", () => {
  const rec = JSON.parse(readFileSync(path.join(FIX, "record.json"), "utf8")) as { prompt: string; response: string; reference_answer: string; rubric: Rubric };
  const messages = renderMessages(builtinTemplate("judge"), { instruction: rec.prompt, response: rec.response, reference_answer: rec.reference_answer, rubric: formatRubric(rec.rubric) });
  assert.deepEqual(messages.map((m) => m.role), ["system", "user"]);
  assert.equal(Buffer.from(messages[0]!.content).toString("hex"), readFileSync(path.join(FIX, "janus-system.txt")).toString("hex"));
  assert.equal(messages[1]!.content, readFileSync(path.join(FIX, "janus-user.txt"), "utf8"));
  assert.equal(Buffer.compare(Buffer.from(messages[1]!.content, "utf8"), readFileSync(path.join(FIX, "janus-user.txt"))), 0);
  // The template's defaults are Janus's SAMPLING_PARAMS_OPENAI.
  assert.deepEqual(builtinTemplate("judge").defaults, { ...JANUS_SAMPLING });
});

test("pythonJsonDumps escapes as Python's json.dumps(ensure_ascii=True, indent=4)", () => {
  assert.equal(pythonJsonDumps({ a: "é\u007f\u0001😀\"\\/", b: [], c: {}, d: [1, true, null] }), '{\n    "a": "\\u00e9\\u007f\\u0001\\ud83d\\ude00\\"\\\\/",\n    "b": [],\n    "c": {},\n    "d": [\n        1,\n        true,\n        null\n    ]\n}');
});

// Expected values: parse_judgment_abs of kaistAI/Janus utils/output_parser.py run on each input
// (CPython 3.11). Under re.VERBOSE "score of" is "scoreof", so their own "score of 1" cases fail.
const JANUS_CASES: [string, number | null, string | null][] = [
  ["Good job. [RESULT] 3", 3, "Good job."],
  ["Needs improvement. [RESULT] Score: 2", 2, "Needs improvement."],
  ["Well done. [RESULT] Result: 4", 4, "Well done."],
  ["Average. [RESULT] 4/5", 4, "Average."],
  ["Excellent. [RESULT] 5 out of 5", 5, "Excellent."],
  ["Poor performance. [RESULT] score of 1", null, null],
  ["Good job. [Result] 3", 3, "Good job. [Result] 3"],
  ["Good job. [3]", null, null],
  ["Good job. (Score 5)", 5, "Good job. (Score 5)"],
  ["Good job. [Score 4]", 4, "Good job. [Score 4]"],
  ["Good job. score: 3", 3, "Good job. score: 3"],
  ["Good job. score of 1", null, null],
  ["Good job. [RESULT] (5)", 5, "Good job."],
  ["Feedback: Score 2 at first glance... [RESULT] 4", 2, "Feedback: Score 2 at first glance..."],
  ["[RESULT] 0", 0, ""],
  ["[RESULT] 45", 45, ""],
  ["[RESULT] \u0663", 3, ""],
  ["[RESULT]\u001c3", 3, ""],
  ["[RESULT]\ufeff3", null, null],
  ["Scoreof 2", 2, "Scoreof 2"],
  ["The SCORE: [ 4 ]", 4, "The SCORE: [ 4 ]"],
  ["  Feedback: fine. [RESULT] 4  \n", 4, "Feedback: fine."],
  ["[RESULT]: 4", 4, ""],
  ["[RESULT]   [  07", 7, ""],
  ["no score here", null, null],
  ["\u017fcore: 3", 3, "\u017fcore: 3"],
  ["[RESULT]\u00853", 3, ""],
];

test("--judge-parse janus: the authors' pattern exactly (first match, any integer, Python regex semantics)", () => {
  for (const [text, score, feedback] of JANUS_CASES) {
    const p = parseJudgeScoreJanus(text);
    assert.equal(p.score, score, JSON.stringify(text));
    if (score !== null) assert.equal(p.feedback, feedback, JSON.stringify(text));
  }
  // Where the two parsers part: the robust one takes the last [RESULT] and only 1-5.
  assert.equal(parseJudgeScore("Feedback: Score 2 at first glance... [RESULT] 4").score, 4);
  assert.equal(parseJudgeScore("[RESULT] 45").score, null);
  assert.equal(parseJudgeScore("Poor performance. [RESULT] score of 1").score, 1);
});

const dir = tempDir();
const ds = path.join(dir, "ds");
let api: FakeApiServer;
const lastUser = (b: ChatBody) => String(b.messages!.at(-1)!.content);
async function openai(): Promise<Provider> {
  return createProvider({ provider: "openai", model: "gpt-test", apiKey: "sk-test-key", baseUrl: api.openaiBaseUrl });
}

before(async () => {
  api = await FakeApiServer.start();
  await buildDataset({ train: "samples/train.jsonl", test: "samples/test.jsonl", out: ds });
});
after(() => api.close());

test("a judge run sends Janus's messages and sampling, re-asks 5 times, and records the parser in run.json and the report", async () => {
  api.chat = (b) => ({ text: lastUser(b).includes("###Feedback:") ? "Feedback: Score 2 at first glance, but good. [RESULT] 4" : "an answer" });
  const gen = await openai();
  const genDir = path.join(dir, "gen");
  await runGeneration(ds, { dimensions: ["style"], limit: 2, history: "with" }, gen, testRunner(genDir, gen));

  api.requests.length = 0;
  const j = await openai();
  const robustDir = path.join(dir, "judge-robust");
  const robust = await runJudge(genDir, {}, j, testRunner(robustDir, j));
  assert.deepEqual(robust.judged.map((l) => l.score), [4, 4]);
  const bodies = api.requests.filter((r) => r.path.endsWith("/chat/completions")).map((r) => r.body as ChatBody);
  assert.equal(bodies.length, 2);
  for (const b of bodies) {
    assert.equal(b.temperature, 1);
    assert.equal(b.top_p, 0.9);
    assert.equal(b.max_completion_tokens, 1024);
    assert.deepEqual(b.messages!.map((m) => m.role), ["system", "user"]);
    assert.match(lastUser(b), /^###Task Description:\nAn instruction \(might include an Input inside it\)/);
    assert.match(lastUser(b), /###Score Rubrics:\n\{\n {4}"criteria": "/);
    assert.match(lastUser(b), /\n\n###Feedback:$/);
  }

  const janusDir = path.join(dir, "judge-janus");
  const janus = await runJudge(genDir, { parse: "janus" }, j, testRunner(janusDir, j));
  assert.deepEqual(janus.judged.map((l) => l.score), [2, 2], "their pattern takes the first match");
  const rj = await readRunJson(path.join(janusDir, "calls"));
  {
    const want: Record<string, unknown> = { judgeParse: "janus", judgeMaxParseRetries: 5, judgeParams: { ...JANUS_SAMPLING } };
    const got = (rj!.params as { protocol: Record<string, unknown> }).protocol;
    assert.deepEqual(Object.fromEntries(Object.keys(want).map((k) => [k, got[k]])), want);
  }
  const text = formatReport(await buildReport([janusDir]), "text");
  assert.match(text, /"judgeParse":"janus"/);

  // A judge that never gives a score: 1 call + 5 re-asks, then score null.
  api.chat = () => ({ text: "I refuse to grade." });
  const neverDir = path.join(dir, "judge-never");
  const never = await runJudge(genDir, {}, j, testRunner(neverDir, j));
  assert.ok(never.judged.every((l: JudgeResultLine) => l.score === null && l.calls === 6));

  // Flags override the template's sampling defaults.
  const plan = await planJudge(genDir, { params: { temperature: 0 } });
  assert.deepEqual(plan.items[0]!.request.params, { temperature: 0, topP: 0.9, maxTokens: 1024 });
});
