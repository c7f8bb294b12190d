/**
 * A runner in its own process, for the kill-and-resume test:
 *   node --import tsx test/servers/runner-child.ts BASE_URL RUN_DIR ITEMS CONCURRENCY
 * Runs ITEMS chat requests through the real OpenAIProvider and prints "done" when finished.
 */
import { OpenAIProvider } from "../../src/core/providers/openai.js";
import { runBatch, type RunItem } from "../../src/core/eval/runner.js";

export function childItems(n: number): RunItem[] {
  return Array.from({ length: n }, (_, i) => ({
    id: `item-${String(i).padStart(3, "0")}`,
    request: { messages: [{ role: "user" as const, content: `prompt number ${i}` }] },
    userKey: `user-${i % 5}`,
  }));
}

export const CHILD_META = { provider: "openai", model: "gpt-kill", params: { maxTokens: 16 } };

if (process.argv[1]?.endsWith("runner-child.ts")) {
  const [baseUrl, runDir, n, concurrency] = process.argv.slice(2);
  void (async () => {
    const provider = new OpenAIProvider({ provider: "openai", model: "gpt-kill", apiKey: process.env.OPENAI_API_KEY ?? "sk-child", baseUrl, maxTokens: 16 }, "openai");
    await runBatch(childItems(Number(n)), provider, {
      concurrency: Number(concurrency),
      timeoutMs: 10_000,
      maxRetries: 2,
      backoff: { baseMs: 10, maxMs: 50 },
      cacheDir: false,
      runDir: runDir!,
      meta: CHILD_META,
    });
    process.stdout.write("done\n");
  })();
}
