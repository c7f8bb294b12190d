/**
 * The official MultiFacet judge protocol, as the authors run it (repository kaistAI/Janus):
 *
 * - prompt: `utils/prompts.py` ABS_SYSTEM_PROMPT (system message) and ABS_USER_PROMPT_TEMPLATE
 *   (user message, `.format(...)` then `.strip()`), reproduced verbatim by the built-in judge
 *   template (src/core/templates/builtin/judge.ptpl; the template parser drops the trailing space
 *   after "###Feedback:" exactly as `.strip()` does);
 * - rubric: `run_eval_openai.py` serializes each rubric with Python's `json.dumps(rubric, indent=4)`
 *   (ensure_ascii on: every non-ASCII character as a \uXXXX escape) — `janusRubric` below;
 * - instruction: the record's `prompt` alone (their evaluation command passes no `--system_key`);
 * - sampling: `SAMPLING_PARAMS_OPENAI = {max_tokens: 1024, temperature: 1.0, top_p: 0.9}`;
 * - re-asks: `batch_completions_with_retries(max_retries=5)`: an output the parser cannot read is
 *   asked again, up to 5 more times;
 * - parser: `utils/output_parser.py` `parse_judgment_abs`: `re.search(abs_pattern, output,
 *   re.IGNORECASE | re.VERBOSE)` on the stripped completion, the first match's integer is the score
 *   (any integer: they do not check the 1-5 range), feedback = the text before "[RESULT]".
 *   `parseJudgeScoreJanus` applies that pattern with Python's semantics (see JANUS_SCORE_PATTERN).
 */
import type { Rubric } from "../data/schema.js";
import type { JudgeParse } from "./parse.js";

/** SAMPLING_PARAMS_OPENAI of kaistAI/Janus utils/prompts.py (also the judge template's defaults). */
export const JANUS_SAMPLING = { temperature: 1.0, topP: 0.9, maxTokens: 1024 } as const;
/** max_retries of batch_completions_with_retries in kaistAI/Janus run_eval_openai.py. */
export const JANUS_MAX_RETRIES = 5;

/** Python's `json.dumps(value)` string escaping with ensure_ascii=True (the default). */
function pyJsonString(s: string): string {
  let out = '"';
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    const ch = s[i]!;
    if (ch === '"') out += '\\"';
    else if (ch === "\\") out += "\\\\";
    else if (ch === "\n") out += "\\n";
    else if (ch === "\r") out += "\\r";
    else if (ch === "\t") out += "\\t";
    else if (ch === "\b") out += "\\b";
    else if (ch === "\f") out += "\\f";
    // Python escapes everything outside printable ASCII (space..~), DEL included; a UTF-16 code
    // unit is exactly what Python writes for astral characters (a surrogate pair).
    else if (c < 0x20 || c > 0x7e) out += "\\u" + c.toString(16).padStart(4, "0");
    else out += ch;
  }
  return out + '"';
}

/**
 * Python's `json.dumps(value, indent=N)` for JSON-like values (dicts keep their key order; ints and
 * finite floats as Python prints them are not needed here: rubrics hold strings only, so numbers
 * are written as JavaScript does).
 */
export function pythonJsonDumps(value: unknown, indent = 4, level = 0): string {
  const pad = (n: number) => " ".repeat(indent * n);
  if (value === null || value === undefined) return "null";
  if (typeof value === "string") return pyJsonString(value);
  if (typeof value === "boolean") return value ? "true" : "false";
  if (typeof value === "number") return String(value);
  if (Array.isArray(value)) {
    if (value.length === 0) return "[]";
    return "[\n" + value.map((v) => pad(level + 1) + pythonJsonDumps(v, indent, level + 1)).join(",\n") + "\n" + pad(level) + "]";
  }
  const entries = Object.entries(value as Record<string, unknown>);
  if (entries.length === 0) return "{}";
  return "{\n" + entries.map(([k, v]) => `${pad(level + 1)}${pyJsonString(k)}: ${pythonJsonDumps(v, indent, level + 1)}`).join(",\n") + "\n" + pad(level) + "}";
}

/** A rubric as kaistAI/Janus run_eval_openai.py puts it in the prompt: json.dumps(rubric, indent=4), dataset key order. */
export function janusRubric(r: Rubric): string {
  const d = r.score_descriptions;
  return pythonJsonDumps({ criteria: r.criteria, score_descriptions: { "1": d["1"], "2": d["2"], "3": d["3"], "4": d["4"], "5": d["5"] } });
}

/** Python's `\s` on str patterns (str.isspace): JavaScript's `\s` differs (it has U+FEFF, lacks U+001C-U+001F and U+0085). */
const PY_SPACE = "[\\t\\n\\v\\f\\r \\x1c-\\x1f\\x85\\xa0\\u1680\\u2000-\\u200a\\u2028\\u2029\\u202f\\u205f\\u3000]";

/**
 * abs_pattern of kaistAI/Janus utils/output_parser.py:
 *
 *     (?:\[RESULT\]|Score|\[SCORE\]|\[RESULT\]:|Score:|score:|Result:|\[Result\]|score of)\s*(?:\(\s*|\[\s*|)\s*(\d+)
 *
 * compiled with re.IGNORECASE | re.VERBOSE. Under VERBOSE the space in "score of" is ignored, so
 * that alternative is "scoreof"; Python's `\d` is any Unicode decimal digit and `\s` its own
 * white-space set. This is the same pattern with those semantics spelled out for JavaScript.
 */
export const JANUS_SCORE_PATTERN = new RegExp(
  `(?:\\[RESULT\\]|Score|\\[SCORE\\]|\\[RESULT\\]:|Score:|score:|Result:|\\[Result\\]|scoreof)${PY_SPACE}*(?:\\(${PY_SPACE}*|\\[${PY_SPACE}*|)${PY_SPACE}*(\\p{Nd}+)`,
  "iu",
);

/** int() of a run of Unicode decimal digits (each Nd block is 10 consecutive code points from 0). */
function pyInt(digits: string): number {
  let n = 0;
  for (const ch of digits) {
    let cp = ch.codePointAt(0)!;
    let zero = cp;
    while (zero > 0 && /\p{Nd}/u.test(String.fromCodePoint(zero - 1))) zero--;
    cp = (cp - zero) % 10;
    n = n * 10 + cp;
  }
  return n;
}

const PY_STRIP = new RegExp(`^${PY_SPACE}+|${PY_SPACE}+$`, "gu");

/**
 * parse_judgment_abs of kaistAI/Janus, applied to the completion stripped as their OpenAI client
 * does: the first match's integer is the score, whatever its value; feedback is the text before
 * the first "[RESULT]" (stripped), or the whole output. No match: score null.
 */
export function parseJudgeScoreJanus(text: string): JudgeParse {
  const output = text.replace(PY_STRIP, "");
  const m = JANUS_SCORE_PATTERN.exec(output);
  if (!m) return { score: null, feedback: output };
  const feedback = output.includes("[RESULT]") ? output.split("[RESULT]")[0]!.replace(PY_STRIP, "") : output;
  return { score: pyInt(m[1]!), feedback };
}
