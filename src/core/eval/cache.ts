/**
 * Content-addressed response cache on disk. The key is the sha256 of everything that decides a
 * model's answer: provider id, model, generation params (run-level merged with request-level), the
 * exact messages (role + content), the probabilities request, the structured task and the sample
 * index. One JSON file per key in a 2-level fan-out (`ab/cd/abcd….json`), written atomically
 * (temp file + rename), so a crash never leaves a half-written entry. Errors are never cached.
 */
import { createHash } from "node:crypto";
import { mkdir, readFile } from "node:fs/promises";
import path from "node:path";
import { writeFileAtomic } from "../util/atomic.js";
import type { GenerationParams, ProviderRequest, Usage } from "../providers/types.js";

/** JSON with object keys sorted and `undefined` members dropped: equal values, equal text. */
export function stableStringify(value: unknown): string {
  if (value === null || typeof value !== "object") {
    if (typeof value === "number" && !Number.isFinite(value)) return "null";
    return JSON.stringify(value) ?? "null";
  }
  if (Array.isArray(value)) return `[${value.map((v) => (v === undefined ? "null" : stableStringify(v))).join(",")}]`;
  const obj = value as Record<string, unknown>;
  const parts: string[] = [];
  for (const k of Object.keys(obj).sort()) {
    const v = obj[k];
    if (v === undefined) continue;
    parts.push(`${JSON.stringify(k)}:${stableStringify(v)}`);
  }
  return `{${parts.join(",")}}`;
}

export function sha256(text: string): string {
  return createHash("sha256").update(text).digest("hex");
}

/**
 * The hash of one request as a given provider/model would answer it. Run-level params (the
 * provider config: temperature, maxTokens, ...) are merged under the request's own params.
 */
export function requestHash(providerId: string, model: string, runParams: GenerationParams | Record<string, unknown>, request: ProviderRequest): string {
  // `protocol` (run.json params.protocol: how answers are scored) never changes what a model is asked.
  const { protocol: _protocol, ...sent } = runParams as Record<string, unknown>;
  runParams = sent;
  return sha256(
    stableStringify({
      v: 1,
      provider: providerId,
      model,
      params: { ...runParams, ...(request.params ?? {}) },
      messages: request.messages.map((m) => ({ role: m.role, content: m.content })),
      probabilities: request.probabilities ?? null,
      task: request.task ?? null,
      sample: request.sample ?? 0,
    }),
  );
}

/** What the cache keeps of a successful response. */
export interface CachedResponse {
  text: string;
  usage: Usage;
  tokenProbabilities?: Record<string, number>;
  finishReason?: string;
  latencyMs: number;
}

interface CacheFile extends CachedResponse {
  v: 1;
  key: string;
  createdAt: string;
}

export class ResponseCache {
  hits = 0;
  misses = 0;
  private readonly madeDirs = new Set<string>();

  constructor(readonly dir: string) {}

  pathFor(key: string): string {
    return path.join(this.dir, key.slice(0, 2), key.slice(2, 4), `${key}.json`);
  }

  /** The cached response for a key; a missing, unreadable or mismatched file is a miss. */
  async get(key: string): Promise<CachedResponse | undefined> {
    let raw: string;
    try {
      raw = await readFile(this.pathFor(key), "utf8");
    } catch {
      this.misses++;
      return undefined;
    }
    try {
      const f = JSON.parse(raw) as Partial<CacheFile>;
      if (f.v !== 1 || f.key !== key || typeof f.text !== "string" || typeof f.usage !== "object" || f.usage === null) throw new Error("bad entry");
      this.hits++;
      const out: CachedResponse = { text: f.text, usage: f.usage, latencyMs: typeof f.latencyMs === "number" ? f.latencyMs : 0 };
      if (f.tokenProbabilities) out.tokenProbabilities = f.tokenProbabilities;
      if (f.finishReason) out.finishReason = f.finishReason;
      return out;
    } catch {
      this.misses++;
      return undefined;
    }
  }

  /** Stores a successful response (temp file + rename: readers see all of it or nothing). */
  async put(key: string, value: CachedResponse): Promise<void> {
    const file = this.pathFor(key);
    const dir = path.dirname(file);
    if (!this.madeDirs.has(dir)) {
      await mkdir(dir, { recursive: true });
      this.madeDirs.add(dir);
    }
    const entry: CacheFile = { v: 1, key, createdAt: new Date().toISOString(), ...value };
    await writeFileAtomic(file, JSON.stringify(entry), { mkdir: false });
  }
}
