/**
 * A batch-mode run in its own process, for the kill tests:
 *   node --import tsx test/servers/batch-child.ts BASE_URL RUN_DIR ITEMS [PROVIDER] [CRASH] [MAX_REQUESTS]
 * Sends ITEMS requests through the OpenAI Batch API (PROVIDER "anthropic": Message Batches;
 * BatchProvider over the real SDK), polling every 20 ms, and prints "done" when finished.
 * CRASH "after-create": the process kills itself (SIGKILL) the moment the API has created the
 * first batch, before the run can record its id. MAX_REQUESTS: requests per batch (shards).
 */
import { OpenAIProvider } from "../../src/core/providers/openai.js";
import { AnthropicProvider } from "../../src/core/providers/anthropic.js";
import { AnthropicBatchBackend, OpenAIBatchBackend, type BatchBackend } from "../../src/core/batch/backend.js";
import { BatchProvider } from "../../src/core/batch/provider.js";
import { runBatch } from "../../src/core/eval/runner.js";
import type { ProviderConfig } from "../../src/core/providers/registry.js";
import type { Provider } from "../../src/core/providers/types.js";
import { CHILD_META, childItems } from "./runner-child.js";

/** The child's provider, batch backend and run metadata for a provider name (the resume uses the same). */
export function childBatchSetup(provider: string, baseUrl: string, maxRequests?: number): { inner: Provider; backend: BatchBackend; meta: typeof CHILD_META } {
  const limits = maxRequests ? { maxRequests } : {};
  if (provider === "anthropic") {
    const config: ProviderConfig = { provider: "anthropic", model: "claude-kill", apiKey: "sk-ant-child-key", baseUrl, maxTokens: 16 };
    return { inner: new AnthropicProvider(config), backend: new AnthropicBatchBackend(config, limits), meta: { ...CHILD_META, provider: "anthropic", model: "claude-kill" } };
  }
  const config: ProviderConfig = { provider: "openai", model: "gpt-kill", apiKey: "sk-child-key", baseUrl, maxTokens: 16 };
  return { inner: new OpenAIProvider(config, "openai"), backend: new OpenAIBatchBackend(config, limits), meta: CHILD_META };
}

if (process.argv[1]?.endsWith("batch-child.ts")) {
  const [baseUrl, runDir, n, providerName = "openai", crash = "", maxRequests = ""] = process.argv.slice(2);
  void (async () => {
    const { inner, backend, meta } = childBatchSetup(providerName, baseUrl!, maxRequests ? Number(maxRequests) : undefined);
    if (crash === "after-create") {
      const submit = backend.submit.bind(backend);
      backend.submit = async (...args) => {
        await submit(...args);
        process.kill(process.pid, "SIGKILL");
        return new Promise<string>(() => undefined);
      };
    }
    const provider = await BatchProvider.create(inner, backend, { runDir: runDir!, pollMs: 20, collectMs: 20 });
    await runBatch(childItems(Number(n)), provider, { concurrency: 50_000, timeoutMs: 3_600_000, maxRetries: 2, backoff: { baseMs: 10, maxMs: 50 }, cacheDir: false, runDir: runDir!, meta });
    await provider.dispose();
    process.stdout.write("done\n");
  })();
}
