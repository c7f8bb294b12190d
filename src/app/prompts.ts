/**
 * Prompt sets: a JSONL file of chat prompts (`{"id", "messages", "params"?, "userKey"?,
 * "probabilities"?, "sample"?}` per line), validated with errors naming file, line and field.
 * Read by `preflab run-prompts` and the extension's "Run Prompt Set" through the run session.
 */
import { readFile } from "node:fs/promises";
import { z } from "zod";
import type { RunItem } from "../core/eval/runner.js";

const Message = z.strictObject({
  role: z.enum(["system", "user", "assistant"]),
  content: z.string(),
  cachePrefix: z.boolean().optional(),
});

const Params = z.strictObject({
  temperature: z.number().min(0).max(2).optional(),
  maxTokens: z.number().int().positive().optional(),
  topP: z.number().gt(0).lte(1).optional(),
  seed: z.number().int().optional(),
  stop: z.array(z.string()).optional(),
});

/** One input line. Unknown top-level fields (metadata) are allowed and ignored. */
export const PromptLine = z.object({
  id: z.string().min(1),
  messages: z.array(Message).min(1),
  params: Params.optional(),
  userKey: z.string().min(1).optional(),
  probabilities: z.strictObject({ candidates: z.array(z.string().min(1)).min(1), answerPrefix: z.string().optional() }).optional(),
  sample: z.number().int().min(0).optional(),
});
export type PromptLine = z.infer<typeof PromptLine>;

/** Input problems, each naming file, line and field. */
export class InputError extends Error {
  constructor(readonly problems: string[]) {
    super(problems[0] ?? "bad input");
    this.name = "InputError";
  }
}

const MAX_REPORTED = 10;

/** Reads and validates a prompts JSONL file; throws InputError naming every bad line (up to 10). */
export async function readPromptFile(file: string): Promise<RunItem[]> {
  let text: string;
  try {
    text = await readFile(file, "utf8");
  } catch (e) {
    throw new InputError([`${file}: cannot read: ${(e as Error).message}`]);
  }
  const problems: string[] = [];
  const items: RunItem[] = [];
  const firstLine = new Map<string, number>();
  const lines = text.split("\n");
  for (let i = 0; i < lines.length && problems.length < MAX_REPORTED; i++) {
    const raw = lines[i]!.trim();
    if (!raw) continue;
    const where = `${file}:${i + 1}`;
    let json: unknown;
    try {
      json = JSON.parse(raw);
    } catch (e) {
      problems.push(`${where}: not valid JSON: ${(e as Error).message}`);
      continue;
    }
    const r = PromptLine.safeParse(json);
    if (!r.success) {
      for (const issue of r.error.issues.slice(0, 3)) {
        const field = issue.path.length > 0 ? issue.path.map(String).join(".") : "(line)";
        problems.push(`${where}: ${field}: ${issue.message}`);
      }
      continue;
    }
    const line = r.data;
    const seen = firstLine.get(line.id);
    if (seen !== undefined) {
      problems.push(`${where}: id: duplicate id "${line.id}" (first on line ${seen})`);
      continue;
    }
    firstLine.set(line.id, i + 1);
    const item: RunItem = { id: line.id, request: { messages: line.messages } };
    if (line.params) item.request.params = line.params;
    if (line.probabilities) item.request.probabilities = line.probabilities;
    if (line.sample !== undefined) item.request.sample = line.sample;
    if (line.userKey !== undefined) {
      item.userKey = line.userKey;
      item.request.sequenceKey = line.userKey;
    }
    items.push(item);
  }
  if (problems.length > 0) throw new InputError(problems);
  if (items.length === 0) throw new InputError([`${file}: no prompts (expected one JSON object per line)`]);
  return items;
}
