/**
 * The one redactor: replaces every key Preflab knows (each key environment variable's value and
 * every key handed out from storage) with "[redacted]" in any text, and in any JSON-like value.
 * Every host's output channels, log files, error messages and webview messages go through one
 * instance; the runner gets `secrets()` to redact what it writes (run files, cache entries).
 *
 *   const redactor = Redactor.fromEnvironment(process.env);   // OPENAI_API_KEY, ANTHROPIC_API_KEY, ...
 *   redactor.add(storedKey);
 *   channel.appendLine(redactor.redact(text));
 */
import { API_KEY_ENV } from "../providers/registry.js";

export const REDACTED = "[redacted]";

/** Shorter strings are not treated as keys (they would blank ordinary words). */
export const MIN_SECRET_LENGTH = 8;

/** Every environment variable that may hold a key. */
export const KEY_ENV_VARS: readonly string[] = [...new Set(Object.values(API_KEY_ENV).filter((v): v is string => Boolean(v)))];

export class Redactor {
  private readonly known = new Set<string>();

  static fromEnvironment(env: NodeJS.ProcessEnv = process.env): Redactor {
    return new Redactor().addEnvironment(env);
  }

  /** Adds the values of every key variable in `env`. */
  addEnvironment(env: NodeJS.ProcessEnv): this {
    for (const name of KEY_ENV_VARS) this.add(env[name]);
    return this;
  }

  /** Registers a string that must never be shown or written (trimmed; too-short strings are ignored). */
  add(secret: string | undefined | null): this {
    const s = secret?.trim();
    if (s && s.length >= MIN_SECRET_LENGTH) {
      this.known.add(s);
      // A key also shows up URL-encoded (query strings) or JSON-escaped.
      const enc = encodeURIComponent(s);
      if (enc !== s) this.known.add(enc);
    }
    return this;
  }

  /** The registered strings, longest first (for the runner's own redaction). */
  secrets(): string[] {
    return [...this.known].sort((a, b) => b.length - a.length);
  }

  redact(text: string): string {
    if (typeof text !== "string") return text;
    for (const s of this.secrets()) if (text.includes(s)) text = text.split(s).join(REDACTED);
    return text;
  }

  /** Redacts every string inside a JSON-like value (objects, arrays), returning a copy. */
  redactValue<T>(value: T): T {
    return redactIn(value, (s) => this.redact(s), 0) as T;
  }

  /** An error's message (and stack) with keys removed. */
  redactError(e: unknown): string {
    return this.redact(e instanceof Error ? e.message : String(e));
  }
}

function redactIn(v: unknown, f: (s: string) => string, depth: number): unknown {
  if (typeof v === "string") return f(v);
  if (depth > 64 || v === null || typeof v !== "object") return v;
  if (Array.isArray(v)) return v.map((x) => redactIn(x, f, depth + 1));
  const out: Record<string, unknown> = {};
  for (const [k, x] of Object.entries(v as Record<string, unknown>)) out[k] = redactIn(x, f, depth + 1);
  return out;
}
