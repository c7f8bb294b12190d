/**
 * Prompt templates (`.ptpl`): YAML front matter, then a body of role sections with
 * `{{placeholder}}` slots.
 *
 *     ---
 *     kind: reward-model          # reward-model | generation | history | judge
 *     name: my-rm
 *     description: optional text
 *     defaults: { temperature: 0.9, maxTokens: 1024 }   # optional model defaults
 *     ---
 *     @system
 *     You are ...
 *     @user
 *     ... {{feedback_history}} ... {{instruction}} ...
 *
 * A line that is exactly `@system`, `@user` or `@assistant` starts a message of that role; a body
 * without role lines is one user message. `history` templates are fragments and take no role
 * lines. `\{{` writes a literal `{{`. Parsing never throws: it returns diagnostics with positions
 * (used by the language server); `loadTemplate`/`parseTemplateOrThrow` throw on the first error.
 */
import { createHash } from "node:crypto";
import { readFileSync } from "node:fs";
import * as path from "node:path";
import { isMap, isScalar, parseDocument, type Node as YamlNode } from "yaml";
import { z } from "zod";
import type { ChatMessage, Role } from "../providers/types.js";
import { isTemplateKind, KINDS, TEMPLATE_KINDS, type TemplateKind } from "./kinds.js";

export interface Position {
  /** 0-based line and column. */
  line: number;
  col: number;
}

export interface Diagnostic {
  severity: "error" | "warning";
  message: string;
  start: Position;
  end: Position;
  code: string;
}

export interface PlaceholderUse {
  name: string;
  start: Position;
  end: Position;
  /** Offset of the `{{` in the template text. */
  offset: number;
}

type Piece = { text: string } | { name: string };

export interface Section {
  role: Role | null;
  pieces: Piece[];
  /** Line of the role marker (or of the first body line). */
  line: number;
}

export const frontMatterSchema = z.object({
  kind: z.enum(TEMPLATE_KINDS),
  name: z.string().min(1),
  description: z.string().optional(),
  defaults: z
    .object({
      model: z.string().optional(),
      temperature: z.number().min(0).max(2).optional(),
      maxTokens: z.number().int().positive().optional(),
      topP: z.number().min(0).max(1).optional(),
    })
    .strict()
    .optional(),
});
export type FrontMatter = z.infer<typeof frontMatterSchema>;

export interface Template {
  file: string;
  kind: TemplateKind;
  name: string;
  description?: string;
  defaults?: FrontMatter["defaults"];
  sections: Section[];
  placeholders: PlaceholderUse[];
  /** sha256 of the template text (line endings normalised): recorded by every run. */
  hash: string;
}

/** Where a front-matter key (and its value) sits in the template text (for the language server). */
export interface FrontMatterKey {
  /** Key path: ["kind"], ["defaults", "temperature"]. */
  path: string[];
  start: Position;
  end: Position;
  /** The value's range, when the key has one. */
  valueStart?: Position;
  valueEnd?: Position;
}

export interface ParseResult {
  template?: Template;
  diagnostics: Diagnostic[];
  placeholders: PlaceholderUse[];
  /** Front matter as far as it could be read (for completion and hover). */
  frontMatter?: Record<string, unknown>;
  /** Line where the body starts. */
  bodyLine: number;
  /** Front-matter keys with their positions (empty when the front matter is missing or not YAML). */
  frontMatterKeys: FrontMatterKey[];
  /** Line of the closing "---" of the front matter; undefined when there is none. */
  frontMatterEnd?: number;
}

export class TemplateError extends Error {
  constructor(
    readonly file: string,
    readonly diagnostic: Diagnostic,
  ) {
    super(`${file}:${diagnostic.start.line + 1}:${diagnostic.start.col + 1}: ${diagnostic.message}`);
    this.name = "TemplateError";
  }
}

const ROLE_LINE = /^@(system|user|assistant)\s*$/;
const NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;

function posAt(lines: string[], offset: number): Position {
  let line = 0;
  let rest = offset;
  while (line < lines.length - 1 && rest > lines[line]!.length) {
    rest -= lines[line]!.length + 1;
    line++;
  }
  return { line, col: rest };
}

/** Parses template text; never throws. */
export function parseTemplate(text: string, file = "<template>"): ParseResult {
  const src = text.replace(/\r\n?/g, "\n");
  const lines = src.split("\n");
  const diagnostics: Diagnostic[] = [];
  const diag = (severity: Diagnostic["severity"], code: string, message: string, start: Position, end?: Position) =>
    diagnostics.push({ severity, code, message, start, end: end ?? { line: start.line, col: (lines[start.line] ?? "").length } });

  // ---- Front matter
  let bodyLine = 0;
  let frontMatter: Record<string, unknown> | undefined;
  let fm: FrontMatter | undefined;
  let frontMatterEnd: number | undefined;
  const frontMatterKeys: FrontMatterKey[] = [];
  if (lines[0] === "---") {
    const close = lines.indexOf("---", 1);
    if (close < 0) {
      diag("error", "front-matter-unterminated", 'front matter is not closed: add a line "---" after it', { line: 0, col: 0 });
      bodyLine = lines.length;
    } else {
      bodyLine = close + 1;
      frontMatterEnd = close;
      const fmLines = lines.slice(1, close);
      const doc = parseDocument(fmLines.join("\n"));
      // Offsets in the front-matter text -> positions in the template (it starts on line 1).
      const fmPos = (offset: number): Position => {
        const p = posAt(fmLines.length ? fmLines : [""], offset);
        return { line: p.line + 1, col: p.col };
      };
      const walk = (node: unknown, prefix: string[]) => {
        if (!isMap(node)) return;
        for (const pair of node.items) {
          const key = pair.key as YamlNode | null;
          if (!isScalar(key) || !key.range) continue;
          const entry: FrontMatterKey = { path: [...prefix, String(key.value)], start: fmPos(key.range[0]), end: fmPos(key.range[1]) };
          const value = pair.value as YamlNode | null;
          if (value?.range && value.range[1] > value.range[0]) {
            entry.valueStart = fmPos(value.range[0]);
            entry.valueEnd = fmPos(value.range[1]);
          }
          frontMatterKeys.push(entry);
          walk(value, entry.path);
        }
      };
      walk(doc.contents, []);
      for (const e of doc.errors) {
        const at = e.linePos?.[0];
        diag("error", "front-matter-yaml", `front matter: ${e.message.split("\n")[0]}`, { line: (at?.line ?? 1) , col: Math.max(0, (at?.col ?? 1) - 1) });
      }
      if (doc.errors.length === 0) {
        const value = doc.toJSON() as unknown;
        frontMatter = value && typeof value === "object" ? (value as Record<string, unknown>) : {};
        const res = frontMatterSchema.safeParse(frontMatter);
        if (res.success) fm = res.data;
        else {
          for (const issue of res.error.issues) {
            const issuePath = issue.path.map(String);
            const key = issuePath[0] ?? "";
            const missing = issue.code === "invalid_type" && frontMatter[key] === undefined;
            // The range: the offending value (or an unrecognized key), else the nearest key found, else the opening "---".
            const unrecognized = issue.code === "unrecognized_keys" ? issue.keys[0] : undefined;
            const exact = unrecognized !== undefined ? [...issuePath, unrecognized] : issuePath;
            let at: FrontMatterKey | undefined;
            for (let n = exact.length; n > 0 && !at; n--) at = frontMatterKeys.find((k) => k.path.join("\0") === exact.slice(0, n).join("\0"));
            const useValue = at && unrecognized === undefined && at.path.length === exact.length && at.valueStart && at.valueEnd;
            const start = at ? (useValue ? at.valueStart! : at.start) : { line: 0, col: 0 };
            const end = at ? (useValue ? at.valueEnd! : at.end) : { line: 0, col: 3 };
            diag("error", "front-matter-schema", `front matter: ${issuePath.join(".") || "(root)"}: ${missing ? "required" : issue.message}`, start, end);
          }
        }
      }
    }
  } else {
    diag("error", "front-matter-missing", "a template starts with front matter (---, kind: ..., name: ..., ---)", { line: 0, col: 0 });
  }
  const kind = fm?.kind ?? (typeof frontMatter?.kind === "string" && isTemplateKind(frontMatter.kind) ? frontMatter.kind : undefined);

  // ---- Body: sections and placeholders
  const bodyStartOffset = lines.slice(0, bodyLine).reduce((n, l) => n + l.length + 1, 0);
  const placeholders: PlaceholderUse[] = [];
  const sections: Section[] = [];
  let current: { role: Role | null; line: number; lines: string[]; offset: number } | undefined;
  const flush = () => {
    if (current) sections.push({ role: current.role, line: current.line, pieces: pieces(current.lines.join("\n"), current.offset) });
  };
  const pieces = (body: string, base: number): Piece[] => {
    const out: Piece[] = [];
    let buf = "";
    let i = 0;
    while (i < body.length) {
      if (body.startsWith("\\{{", i)) {
        buf += "{{";
        i += 3;
      } else if (body.startsWith("{{", i)) {
        const close = body.indexOf("}}", i + 2);
        const nl = body.indexOf("\n", i + 2);
        if (close < 0 || (nl >= 0 && nl < close)) {
          diag("error", "unterminated-placeholder", 'unterminated "{{": close it with "}}" on the same line, or write "\\{{" for literal braces', posAt(lines, base + i));
          buf += body.slice(i, nl < 0 ? body.length : nl);
          i = nl < 0 ? body.length : nl;
          continue;
        }
        const name = body.slice(i + 2, close).trim();
        const use: PlaceholderUse = { name, offset: base + i, start: posAt(lines, base + i), end: posAt(lines, base + close + 2) };
        if (!NAME.test(name)) {
          diag("error", "bad-placeholder", `"{{${name}}}" is not a placeholder name (letters, digits and _)`, use.start, use.end);
        } else {
          placeholders.push(use);
          if (buf) out.push({ text: buf });
          buf = "";
          out.push({ name });
        }
        i = close + 2;
      } else {
        buf += body[i];
        i++;
      }
    }
    if (buf) out.push({ text: buf });
    return out;
  };

  let offset = bodyStartOffset;
  for (let ln = bodyLine; ln < lines.length; ln++) {
    const l = lines[ln]!;
    const m = ROLE_LINE.exec(l);
    if (m) {
      if (kind === "history") diag("error", "role-in-history", "a history template is a fragment: it takes no role lines", { line: ln, col: 0 });
      if (current && current.role === null && current.lines.join("").trim()) {
        diag("error", "text-before-role", "text before the first role line (@system, @user, @assistant)", { line: current.line, col: 0 });
      }
      if (current && current.role !== null) flush();
      current = { role: m[1] as Role, line: ln, lines: [], offset: offset + l.length + 1 };
    } else if (current) {
      current.lines.push(l);
    } else if (l.trim()) {
      current = { role: null, line: ln, lines: [l], offset };
    }
    offset += l.length + 1;
  }
  if (current && (current.role !== null || current.lines.join("").trim())) flush();
  // Trailing blank lines of a section are layout, not content.
  for (const s of sections) {
    const last = s.pieces.at(-1);
    if (last && "text" in last) {
      last.text = last.text.replace(/\s+$/, "");
      if (!last.text) s.pieces.pop();
    }
  }
  const hasRoles = sections.some((s) => s.role !== null);
  if (!hasRoles) for (const s of sections) s.role = kind === "history" ? null : "user";

  // ---- Placeholders against the kind
  if (kind) {
    const spec = KINDS[kind];
    for (const p of placeholders) {
      if (!(p.name in spec.placeholders)) {
        diag("error", "unknown-placeholder", `unknown placeholder {{${p.name}}} for a ${kind} template; known: ${Object.keys(spec.placeholders).join(", ")}`, p.start, p.end);
      }
    }
    const used = new Set(placeholders.map((p) => p.name));
    for (const [name, ps] of Object.entries(spec.placeholders)) {
      if (ps.required && !used.has(name)) diag("error", "missing-placeholder", `a ${kind} template needs {{${name}}}`, { line: bodyLine, col: 0 });
    }
    if (spec.needsOneOf && !spec.needsOneOf.some((n) => used.has(n))) {
      diag("error", "missing-placeholder", `a ${kind} template needs ${spec.needsOneOf.map((n) => `{{${n}}}`).join(" or ")}`, { line: bodyLine, col: 0 });
    }
    if (spec.mustMention && !spec.mustMention.pattern.test(src.split("\n").slice(bodyLine).join("\n"))) {
      diag("warning", "missing-output-format", spec.mustMention.message, { line: bodyLine, col: 0 });
    }
    if (sections.length === 0) diag("error", "empty-body", "the template has no body", { line: bodyLine, col: 0 });
  }

  const template: Template | undefined =
    fm && !diagnostics.some((d) => d.severity === "error")
      ? {
          file,
          kind: fm.kind,
          name: fm.name,
          description: fm.description,
          defaults: fm.defaults,
          sections,
          placeholders,
          hash: createHash("sha256").update(src).digest("hex"),
        }
      : undefined;
  return { template, diagnostics, placeholders, frontMatter, bodyLine, frontMatterKeys, frontMatterEnd };
}

export function parseTemplateOrThrow(text: string, file: string): Template {
  const res = parseTemplate(text, file);
  const err = res.diagnostics.find((d) => d.severity === "error");
  if (err || !res.template) throw new TemplateError(file, err ?? { severity: "error", code: "invalid", message: "invalid template", start: { line: 0, col: 0 }, end: { line: 0, col: 0 } });
  return res.template;
}

export function loadTemplate(file: string): Template {
  let text: string;
  try {
    text = readFileSync(file, "utf8");
  } catch {
    throw new Error(`${file}: template file not found`);
  }
  return parseTemplateOrThrow(text, file);
}

export type Values = Partial<Record<string, string>>;

function fill(t: Template, pieces: Piece[], values: Values): { text: string; historyEnd?: number } {
  let text = "";
  let historyEnd: number | undefined;
  for (const p of pieces) {
    if ("text" in p) text += p.text;
    else {
      const v = values[p.name];
      if (v === undefined) throw new Error(`${t.file}: no value for {{${p.name}}}`);
      text += v;
      if (p.name === "feedback_history" && v) historyEnd = text.length;
    }
  }
  return { text, historyEnd };
}

/** Renders a message template; the message holding the feedback history marks where it ends (cacheUntil). */
export function renderMessages(t: Template, values: Values): ChatMessage[] {
  if (t.kind === "history") throw new Error(`${t.file}: a history template renders to text, not messages`);
  return t.sections.map((s) => {
    const { text, historyEnd } = fill(t, s.pieces, values);
    const m: ChatMessage = { role: s.role ?? "user", content: text };
    if (historyEnd !== undefined) m.cacheUntil = historyEnd;
    return m;
  });
}

/** Renders a fragment template (history) to text. */
export function renderText(t: Template, values: Values): string {
  return t.sections.map((s) => fill(t, s.pieces, values).text).join("\n");
}

// ---- Built-in templates (shipped as .ptpl files, loaded through the same parser)

export const BUILTIN_TEMPLATES = {
  "reward-model": "reward-model.ptpl",
  "reward-model-oracle": "reward-model-oracle.ptpl",
  generation: "generation.ptpl",
  "generation-oracle": "generation-oracle.ptpl",
  "generation-plain": "generation-plain.ptpl",
  history: "history.ptpl",
  judge: "judge.ptpl",
} as const;
export type BuiltinTemplate = keyof typeof BUILTIN_TEMPLATES;

/** Folder of the built-in .ptpl files: beside the bundle (dist/templates) or in the source tree. */
export function builtinTemplateDir(): string {
  const candidates = [path.join(__dirname, "templates"), path.join(__dirname, "builtin"), path.join(__dirname, "..", "src", "core", "templates", "builtin")];
  for (const c of candidates) {
    try {
      readFileSync(path.join(c, "judge.ptpl"));
      return c;
    } catch {
      /* try the next */
    }
  }
  throw new Error(`built-in templates not found (looked in ${candidates.join(", ")})`);
}

const builtinCache = new Map<string, Template>();

export function builtinTemplate(name: BuiltinTemplate): Template {
  let t = builtinCache.get(name);
  if (!t) {
    t = loadTemplate(path.join(builtinTemplateDir(), BUILTIN_TEMPLATES[name]));
    builtinCache.set(name, t);
  }
  return t;
}

/** A template given by path, checked to be of the expected kind. */
export function templateOfKind(file: string | undefined, kind: TemplateKind, fallback: BuiltinTemplate): Template {
  const t = file ? loadTemplate(file) : builtinTemplate(fallback);
  if (t.kind !== kind) throw new Error(`${t.file}: expected a ${kind} template, this one is kind ${t.kind}`);
  return t;
}
