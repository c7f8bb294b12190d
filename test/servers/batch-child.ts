/**
 * A batch-mode run in its own process, for the kill-during-polling test:
 *   node --import tsx test/servers/batch-child.ts BASE_URL RUN_DIR ITEMS
 * Sends ITEMS requests through the OpenAI Batch API (BatchProvider over the real SDK), polling
 * every 20 ms, and prints "done" when finished.
 */
import { OpenAIProvider } from "../../src/core/providers/openai.js";
import { OpenAIBatchBackend } from "../../src/core/batch/backend.js";
import { BatchProvider } from "../../src/core/batch/provider.js";
import { runBatch } from "../../src/core/eval/runner.js";
import { CHILD_META, childItems } from "./runner-child.js";

if (process.argv[1]?.endsWith("batch-child.ts")) {
  const [baseUrl, runDir, n] = process.argv.slice(2);
  void (async () => {
    const config = { provider: "openai" as const, model: "gpt-kill", apiKey: "sk-child-key", baseUrl: baseUrl!, maxTokens: 16 };
    const inner = new OpenAIProvider(config, "openai");
    const provider = await BatchProvider.create(inner, new OpenAIBatchBackend(config), { runDir: runDir!, pollMs: 20, collectMs: 20 });
    await runBatch(childItems(Number(n)), provider, { concurrency: 50_000, timeoutMs: 3_600_000, maxRetries: 2, backoff: { baseMs: 10, maxMs: 50 }, cacheDir: false, runDir: runDir!, meta: CHILD_META });
    await provider.dispose();
    process.stdout.write("done\n");
  })();
}
