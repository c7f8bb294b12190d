/** Shared pieces for tests that run evaluations through the real runner. */
import type { RunnerOptions } from "../../src/core/eval/runner.js";
import { emptyUsage, type Provider, type ProviderRequest } from "../../src/core/providers/types.js";

/** Fast runner options for tests: no cache, tiny backoff; `overrides` for what a test needs. */
export function testRunner(runDir: string, provider: Provider, overrides: Partial<RunnerOptions> = {}): RunnerOptions {
  return {
    concurrency: 2,
    timeoutMs: 5000,
    maxRetries: 0,
    backoff: { baseMs: 1, maxMs: 2 },
    cacheDir: false,
    runDir,
    meta: { provider: provider.id, model: provider.model, params: {} },
    ...overrides,
  };
}

/** An in-process provider whose answer is a function of the request (not a stand-in for a cloud API). */
export function scriptedProvider(id: string, model: string, answer: (r: ProviderRequest) => string): Provider {
  return {
    id,
    model,
    capabilities: { tokenProbabilities: false },
    async call(r) {
      return { text: answer(r), usage: emptyUsage(), latencyMs: 0 };
    },
  };
}

/** The text of a request's last message. */
export const lastMessage = (r: ProviderRequest): string => String(r.messages.at(-1)!.content);
