/**
 * The `.ptpl` language features as plain functions of the document text (no connection): the
 * server (connection.ts) wires them to LSP requests, the unit tests call them through a real
 * in-process connection. Everything derives from the core parser (src/core/templates/template.ts)
 * and the kind table (src/core/templates/kinds.ts), so the editor and the evaluations agree.
 */
import {
  CodeLens,
  CompletionItem,
  CompletionItemKind,
  Diagnostic,
  DiagnosticSeverity,
  DocumentSymbol,
  FoldingRange,
  FoldingRangeKind,
  Hover,
  InsertTextFormat,
  MarkupKind,
  Position,
  Range,
  SymbolKind,
  TextEdit,
} from "vscode-languageserver";
import { isTemplateKind, KINDS, TEMPLATE_KINDS, type TemplateKind } from "../core/templates/kinds.js";
import { parseTemplate, type FrontMatterKey, type ParseResult, type Position as CorePosition } from "../core/templates/template.js";
import { PREVIEW_TEMPLATE_COMMAND, RUN_TEMPLATE_SAMPLE_COMMAND } from "../protocol/templates.js";

export const DIAGNOSTIC_SOURCE = "preflab";

/** A parsed document: its lines (as the editor counts them) and the parser's result. */
export interface TemplateDocument {
  text: string;
  lines: string[];
  parsed: ParseResult;
  kind?: TemplateKind;
  /** Line of the closing "---" (or the last line when it is unterminated); -1 without front matter. */
  frontMatterLast: number;
}

export function analyze(text: string, uri = "<template>"): TemplateDocument {
  const lines = text.split(/\r\n|\r|\n/);
  const parsed = parseTemplate(text, uri);
  const k = parsed.frontMatter?.kind;
  const kind = typeof k === "string" && isTemplateKind(k) ? k : undefined;
  let frontMatterLast = -1;
  if (lines[0] === "---") frontMatterLast = parsed.frontMatterEnd ?? lines.length - 1;
  return { text, lines, parsed, kind, frontMatterLast };
}

// ---- Front-matter keys (completion and hover)

interface KeySpec {
  detail: string;
  doc: string;
  insert: string;
  snippet?: boolean;
}

export const FRONT_MATTER_KEYS: Record<string, KeySpec> = {
  kind: {
    detail: "required · reward-model | generation | history | judge",
    doc: "What the template is for. The kind decides which `{{placeholders}}` the template may use and which it must use.",
    insert: "kind: ",
  },
  name: {
    detail: "required · text",
    doc: "The template's name. Every run records it, with the sha256 of the template text.",
    insert: "name: ",
  },
  description: {
    detail: "optional · text",
    doc: "A one-line description for the people who read and pick templates.",
    insert: "description: ",
  },
  defaults: {
    detail: "optional · model defaults",
    doc: "Model defaults stored with the template: `model`, `temperature` (0-2), `maxTokens`, `topP` (0-1). \"Run on N samples\" samples a generation template with its `temperature`, `maxTokens` and `topP`.",
    insert: "defaults:\n  ",
  },
};

export const DEFAULTS_KEYS: Record<string, KeySpec> = {
  model: { detail: "optional · text", doc: "The model name to use by default (for example `gpt-4o-mini`).", insert: "model: " },
  temperature: { detail: "optional · number 0..2", doc: "Sampling temperature. The paper samples at 0.9 for non-OpenAI models.", insert: "temperature: " },
  maxTokens: { detail: "optional · positive integer", doc: "Output token limit.", insert: "maxTokens: " },
  topP: { detail: "optional · number 0..1", doc: "Nucleus sampling: keep the smallest set of tokens whose probability adds up to topP.", insert: "topP: " },
};

const ROLE_DOCS: Record<string, string> = {
  system: "Starts a **system** message: instructions for the model. Every line up to the next role line belongs to it.",
  user: "Starts a **user** message. Every line up to the next role line belongs to it. A template without role lines is one user message.",
  assistant: "Starts an **assistant** message (a prefilled or example answer). Every line up to the next role line belongs to it.",
};

// ---- Positions

function toRange(doc: TemplateDocument, start: CorePosition, end: CorePosition): Range {
  const clamp = (p: CorePosition): Position => {
    if (p.line >= doc.lines.length) {
      const last = doc.lines.length - 1;
      return Position.create(last, doc.lines[last]!.length);
    }
    return Position.create(p.line, Math.min(p.col, doc.lines[p.line]!.length));
  };
  return Range.create(clamp(start), clamp(end));
}

function contains(r: Range, p: Position): boolean {
  const afterStart = p.line > r.start.line || (p.line === r.start.line && p.character >= r.start.character);
  const beforeEnd = p.line < r.end.line || (p.line === r.end.line && p.character <= r.end.character);
  return afterStart && beforeEnd;
}

function inFrontMatter(doc: TemplateDocument, line: number): boolean {
  return doc.frontMatterLast >= 0 && line > 0 && (line < doc.frontMatterLast || (doc.parsed.frontMatterEnd === undefined && line <= doc.frontMatterLast));
}

// ---- Diagnostics

/** The parser's errors and warnings, plus a warning for front-matter keys the format does not know. */
export function diagnostics(doc: TemplateDocument): Diagnostic[] {
  const out = doc.parsed.diagnostics.map((d) =>
    Diagnostic.create(toRange(doc, d.start, d.end), d.message, d.severity === "error" ? DiagnosticSeverity.Error : DiagnosticSeverity.Warning, d.code, DIAGNOSTIC_SOURCE),
  );
  for (const k of doc.parsed.frontMatterKeys) {
    if (k.path.length === 1 && !(k.path[0]! in FRONT_MATTER_KEYS)) {
      out.push(
        Diagnostic.create(
          toRange(doc, k.start, k.end),
          `unknown front-matter key "${k.path[0]}" (known: ${Object.keys(FRONT_MATTER_KEYS).join(", ")}); it is ignored`,
          DiagnosticSeverity.Warning,
          "unknown-front-matter-key",
          DIAGNOSTIC_SOURCE,
        ),
      );
    }
  }
  return out;
}

// ---- Completion

function placeholderDoc(name: string, kind: TemplateKind | undefined): string {
  const kinds = kind ? [kind] : TEMPLATE_KINDS.filter((k) => name in KINDS[k].placeholders);
  const parts: string[] = [];
  for (const k of kinds) {
    const spec = KINDS[k].placeholders[name];
    if (!spec) continue;
    parts.push(`**{{${name}}}** · ${spec.required ? "required" : "optional"} in a ${k} template\n\n${spec.description}\n\nExample value:\n\n\`\`\`text\n${spec.example}\n\`\`\``);
  }
  return parts.join("\n\n---\n\n");
}

const IDENT = /[A-Za-z0-9_]/;

/** The `{{` the cursor is inside of (on the same line, unescaped, not yet closed before the cursor). */
function placeholderContext(line: string, col: number): { from: number; to: number; close: boolean } | undefined {
  const before = line.slice(0, col);
  const open = before.lastIndexOf("{{");
  if (open < 0 || (open > 0 && before[open - 1] === "\\")) return undefined;
  const inside = before.slice(open + 2);
  if (inside.includes("}}")) return undefined;
  const m = /^(\s*)([A-Za-z0-9_]*)$/.exec(inside);
  if (!m) return undefined;
  const from = open + 2 + m[1]!.length;
  let to = col;
  while (to < line.length && IDENT.test(line[to]!)) to++;
  const close = !/^\s*\}\}/.test(line.slice(to));
  return { from, to, close };
}

function templateSkeleton(kind: TemplateKind): string {
  const header = `---\nkind: ${kind}\nname: \${1:my-${kind}}\ndescription: \${2:What this template is for}\n---\n`;
  switch (kind) {
    case "reward-model":
      return `${header}@user\n# START OF EXAMPLES\n{{feedback_history}}\n# END OF EXAMPLES\n\n###Instruction:\n{{instruction}}\n\n###Response A:\n{{response_a}}\n\n###Response B:\n{{response_b}}\n\nWhich response does this user prefer? Explain, then output "[[A]]" or "[[B]]".$0\n`;
    case "generation":
      return `${header}@user\n# START OF EXAMPLES\n{{feedback_history}}\n# END OF EXAMPLES\n\n# Instruction\n{{instruction}}$0\n`;
    case "judge":
      return `${header}@system\nYou are a fair judge assistant.\n@user\n###Instruction:\n{{instruction}}\n\n###Response to evaluate:\n{{response}}\n\n###Reference Answer (Score 5):\n{{reference_answer}}\n\n###Score Rubrics:\n{{rubric}}\n\nWrite "Feedback: ... [RESULT] N" with N from 1 to 5.$0\n`;
    case "history":
      return `${header}Example {{example_id}}:\n## Instruction\n{{instruction}}\n## Response liked by the user\n{{preferred_response}}\n## Response NOT liked by the user\n{{rejected_response}}$0\n`;
  }
}

export function completion(doc: TemplateDocument, pos: Position): CompletionItem[] {
  const line = doc.lines[pos.line] ?? "";
  const before = line.slice(0, pos.character);

  // An empty file (or a first line being typed) without front matter: whole-template skeletons.
  if (pos.line === 0 && doc.frontMatterLast < 0 && /^-{0,3}$/.test(before) && doc.lines.slice(1).every((l) => !l.trim())) {
    return TEMPLATE_KINDS.map((k, i) => ({
      label: `${k} template`,
      kind: CompletionItemKind.Snippet,
      detail: "new .ptpl template",
      documentation: { kind: MarkupKind.Markdown, value: KINDS[k].description },
      insertTextFormat: InsertTextFormat.Snippet,
      textEdit: TextEdit.replace(Range.create(pos.line, 0, pos.line, line.length), templateSkeleton(k)),
      sortText: String(i),
    }));
  }

  if (inFrontMatter(doc, pos.line)) {
    const kindValue = /^kind\s*:\s*([\w-]*)$/.exec(before);
    if (kindValue) {
      const from = before.length - kindValue[1]!.length;
      let to = pos.character;
      while (to < line.length && /[\w-]/.test(line[to]!)) to++;
      return TEMPLATE_KINDS.map((k) => ({
        label: k,
        kind: CompletionItemKind.EnumMember,
        detail: `placeholders: ${Object.keys(KINDS[k].placeholders).join(", ")}`,
        documentation: { kind: MarkupKind.Markdown, value: KINDS[k].description },
        textEdit: TextEdit.replace(Range.create(pos.line, from, pos.line, to), k),
      }));
    }
    const keyPrefix = /^(\s*)([A-Za-z_]*)$/.exec(before);
    if (!keyPrefix) return [];
    const indented = keyPrefix[1]!.length > 0;
    const from = keyPrefix[1]!.length;
    let to = pos.character;
    while (to < line.length && /\w/.test(line[to]!)) to++;
    if (/^\s*:/.test(line.slice(to))) return []; // the key is already written
    const present = new Set(doc.parsed.frontMatterKeys.map((k) => k.path.join(".")));
    let table: Record<string, KeySpec> = FRONT_MATTER_KEYS;
    let prefix = "";
    if (indented) {
      // Under which top-level key? The nearest line above that starts at column 0.
      let parent = "";
      for (let l = pos.line - 1; l > 0; l--) {
        const m = /^([A-Za-z_]\w*)\s*:/.exec(doc.lines[l]!);
        if (m) {
          parent = m[1]!;
          break;
        }
      }
      if (parent !== "defaults") return [];
      table = DEFAULTS_KEYS;
      prefix = "defaults.";
    }
    return Object.entries(table)
      .filter(([k]) => !present.has(prefix + k))
      .map(([k, spec], i) => ({
        label: prefix ? `${prefix}${k}` : k,
        filterText: k,
        kind: CompletionItemKind.Property,
        detail: spec.detail,
        documentation: { kind: MarkupKind.Markdown, value: spec.doc },
        textEdit: TextEdit.replace(Range.create(pos.line, from, pos.line, to), spec.insert),
        sortText: String(i),
        // Offer the kind values right after "kind: ".
        ...(k === "kind" ? { command: { title: "Suggest", command: "editor.action.triggerSuggest" } } : {}),
      }));
  }

  // Body: placeholders inside "{{".
  const ctx = placeholderContext(line, pos.character);
  if (ctx) {
    const used = new Set(doc.parsed.placeholders.map((p) => p.name));
    const names = doc.kind ? Object.keys(KINDS[doc.kind].placeholders) : [...new Set(TEMPLATE_KINDS.flatMap((k) => Object.keys(KINDS[k].placeholders)))];
    return names.map((name) => {
      const spec = doc.kind ? KINDS[doc.kind].placeholders[name] : undefined;
      const kinds = TEMPLATE_KINDS.filter((k) => name in KINDS[k].placeholders);
      return {
        label: name,
        kind: CompletionItemKind.Variable,
        detail: spec ? `${spec.required ? "required" : "optional"} · ${doc.kind} template${used.has(name) ? " · already used" : ""}` : `placeholder of ${kinds.join(", ")} templates`,
        documentation: { kind: MarkupKind.Markdown, value: placeholderDoc(name, doc.kind) },
        textEdit: TextEdit.replace(Range.create(pos.line, ctx.from, pos.line, ctx.to), ctx.close ? `${name}}}` : name),
        filterText: name,
        // Placeholders the template still lacks come first, required before optional.
        sortText: `${used.has(name) ? 1 : 0}${spec?.required === false ? 1 : 0}${name}`,
      };
    });
  }

  // Body: role lines.
  if (/^@[a-z]*$/.test(before) && doc.kind !== "history") {
    let to = pos.character;
    while (to < line.length && /[a-z]/.test(line[to]!)) to++;
    return (["system", "user", "assistant"] as const).map((role, i) => ({
      label: `@${role}`,
      kind: CompletionItemKind.Keyword,
      detail: "role line",
      documentation: { kind: MarkupKind.Markdown, value: ROLE_DOCS[role]! },
      textEdit: TextEdit.replace(Range.create(pos.line, 0, pos.line, to), `@${role}`),
      sortText: String(i),
    }));
  }
  return [];
}

// ---- Hover

function keyHover(k: FrontMatterKey, doc: TemplateDocument, pos: Position): Hover | undefined {
  const keyRange = toRange(doc, k.start, k.end);
  const valueRange = k.valueStart && k.valueEnd ? toRange(doc, k.valueStart, k.valueEnd) : undefined;
  const key = k.path.join(".");
  if (key === "kind" && valueRange && contains(valueRange, pos)) {
    const value = doc.parsed.frontMatter?.kind;
    if (typeof value !== "string" || !isTemplateKind(value)) return { range: valueRange, contents: { kind: MarkupKind.Markdown, value: `Unknown kind. One of: ${TEMPLATE_KINDS.join(", ")}.` } };
    const spec = KINDS[value];
    const rows = Object.entries(spec.placeholders).map(([n, p]) => `| \`{{${n}}}\` | ${p.required ? "required" : "optional"} | ${p.description} |`);
    const extra = spec.mustMention ? `\n\nThe body must ask for the output format: ${spec.mustMention.message.replace(/^an? [\w-]+ template must /, "")}.` : "";
    return {
      range: valueRange,
      contents: { kind: MarkupKind.Markdown, value: `**${value}** — ${spec.description}\n\n| placeholder | | meaning |\n| --- | --- | --- |\n${rows.join("\n")}${extra}` },
    };
  }
  if (!contains(keyRange, pos)) return undefined;
  const spec = k.path.length === 1 ? FRONT_MATTER_KEYS[k.path[0]!] : k.path[0] === "defaults" && k.path.length === 2 ? DEFAULTS_KEYS[k.path[1]!] : undefined;
  const value = spec ? `**${key}** · ${spec.detail}\n\n${spec.doc}` : `**${key}** is not a front-matter key of a .ptpl template; it is ignored.`;
  return { range: keyRange, contents: { kind: MarkupKind.Markdown, value } };
}

export function hover(doc: TemplateDocument, pos: Position): Hover | undefined {
  if (inFrontMatter(doc, pos.line)) {
    for (const k of doc.parsed.frontMatterKeys) {
      const h = keyHover(k, doc, pos);
      if (h) return h;
    }
    return undefined;
  }
  for (const p of doc.parsed.placeholders) {
    const range = toRange(doc, p.start, p.end);
    if (!contains(range, pos) || (pos.line === range.end.line && pos.character === range.end.character)) continue;
    const known = TEMPLATE_KINDS.filter((k) => p.name in KINDS[k].placeholders);
    let value: string;
    if (doc.kind && !(p.name in KINDS[doc.kind].placeholders)) {
      value = `**{{${p.name}}}** is not a placeholder of a ${doc.kind} template.\n\nKnown: ${Object.keys(KINDS[doc.kind].placeholders).map((n) => `\`{{${n}}}\``).join(", ")}.`;
      if (known.length) value += `\n\n(It is a placeholder of ${known.join(", ")} templates.)`;
    } else if (known.length === 0) {
      value = `**{{${p.name}}}** is not a placeholder of any template kind.`;
    } else {
      value = placeholderDoc(p.name, doc.kind);
    }
    return { range, contents: { kind: MarkupKind.Markdown, value } };
  }
  const line = doc.lines[pos.line] ?? "";
  const role = /^@(system|user|assistant)\s*$/.exec(line);
  if (role && pos.character <= role[1]!.length + 1) {
    return { range: Range.create(pos.line, 0, pos.line, role[1]!.length + 1), contents: { kind: MarkupKind.Markdown, value: ROLE_DOCS[role[1]!]! } };
  }
  for (const m of line.matchAll(/\[\[[AB]\]\]|\[RESULT\]/g)) {
    const from = m.index;
    const to = from + m[0].length;
    if (pos.character < from || pos.character >= to) continue;
    const value =
      m[0] === "[RESULT]"
        ? "**[RESULT]** — the judge writes its 1-5 score after this marker (`Feedback: ... [RESULT] 4`). Evaluations parse it; an output without a score is asked again, then recorded as unscored."
        : "**[[A]] / [[B]]** — the reward model's verdict format. Evaluations parse the last verdict in the output; a template must ask for it.";
    return { range: Range.create(pos.line, from, pos.line, to), contents: { kind: MarkupKind.Markdown, value } };
  }
  return undefined;
}

// ---- Code lenses, folding, symbols

export function codeLenses(doc: TemplateDocument, uri: string, sampleSize: number): CodeLens[] {
  const range = Range.create(0, 0, 0, 0);
  const lenses: CodeLens[] = [{ range, command: { title: "Preview Rendered Prompt", command: PREVIEW_TEMPLATE_COMMAND, arguments: [uri] } }];
  if (doc.kind !== "judge") {
    lenses.push({ range, command: { title: `Run on ${sampleSize} samples`, command: RUN_TEMPLATE_SAMPLE_COMMAND, arguments: [uri, sampleSize] } });
  }
  return lenses;
}

interface SectionSpan {
  role: string | null;
  start: number;
  end: number;
}

function sectionSpans(doc: TemplateDocument): SectionSpan[] {
  const bodyStart = doc.parsed.frontMatterEnd !== undefined ? doc.parsed.frontMatterEnd + 1 : doc.frontMatterLast >= 0 ? doc.lines.length : 0;
  const spans: SectionSpan[] = [];
  for (let l = bodyStart; l < doc.lines.length; l++) {
    const m = /^@(system|user|assistant)\s*$/.exec(doc.lines[l]!);
    if (m) spans.push({ role: m[1]!, start: l, end: l });
    else if (spans.length === 0 && doc.lines[l]!.trim()) spans.push({ role: null, start: l, end: l });
    if (spans.length && doc.lines[l]!.trim()) spans.at(-1)!.end = l;
  }
  return spans;
}

export function foldingRanges(doc: TemplateDocument): FoldingRange[] {
  const out: FoldingRange[] = [];
  if (doc.parsed.frontMatterEnd !== undefined && doc.parsed.frontMatterEnd > 0) out.push({ startLine: 0, endLine: doc.parsed.frontMatterEnd, kind: FoldingRangeKind.Region });
  for (const s of sectionSpans(doc)) if (s.end > s.start) out.push({ startLine: s.start, endLine: s.end, kind: FoldingRangeKind.Region });
  return out;
}

export function documentSymbols(doc: TemplateDocument): DocumentSymbol[] {
  const out: DocumentSymbol[] = [];
  const fmEnd = doc.parsed.frontMatterEnd;
  if (fmEnd !== undefined) {
    const name = doc.parsed.frontMatter?.name;
    const r = Range.create(0, 0, fmEnd, 3);
    out.push(DocumentSymbol.create(typeof name === "string" ? name : "front matter", doc.kind ?? "template", SymbolKind.Namespace, r, r));
  }
  for (const s of sectionSpans(doc)) {
    const range = Range.create(s.start, 0, s.end, doc.lines[s.end]!.length);
    const children: DocumentSymbol[] = [];
    for (let l = s.start; l <= s.end; l++) {
      const h = /^(#{1,6})\s*(.*?)\s*$/.exec(doc.lines[l]!);
      if (h && h[2]) {
        const hr = Range.create(l, 0, l, doc.lines[l]!.length);
        children.push(DocumentSymbol.create(h[2], undefined, SymbolKind.String, hr, hr));
      }
    }
    const label = s.role ? `@${s.role}` : doc.kind === "history" ? "fragment" : "user (implicit)";
    out.push(DocumentSymbol.create(label, undefined, SymbolKind.Module, range, Range.create(s.start, 0, s.start, doc.lines[s.start]!.length), children));
  }
  return out;
}
