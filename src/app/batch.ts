/**
 * `--batch` (and `batch: true` in an experiment cell): a run's requests go through the provider's
 * batch API (src/core/batch) instead of one request each. The runner is told to hand every item
 * to the provider at once and to wait as long as a batch may take (24 h + polling), and the
 * provider wrapper keeps the ordinary-path calls (retries of batch errors) within the run's own
 * concurrency.
 *
 * Rate limits: the run's requests-/tokens-per-minute limits (rpm, tpm) pace the ordinary-path
 * calls (items sent again after a batch error), not the hand-over of items to the batch; the
 * batch APIs have their own limits. OpenAI limits the prompt tokens of an organisation's
 * unfinished batches per model (the "enqueued tokens" of its rate-limits page, by usage tier): a
 * batch over it fails at validation with `token_limit_exceeded`. `batchMaxEnqueuedTokens` (CLI
 * `--batch-max-enqueued-tokens`) keeps this run's unfinished batches under that many prompt
 * tokens, counted with the model's tokenizer (shards cut to fit, later shards waiting for earlier
 * batches to end); without it a batch refused for the limit is submitted again once another batch
 * of the run has ended (at most LIMIT_RESUBMITS times). Anthropic limits requests to the Message
 * Batches endpoints per minute and the requests waiting in its processing queue; a refused create
 * (429) fails its items with a retryable error that the run's retry rules resubmit.
 */
import type { ProviderConfig } from "../core/providers/registry.js";
import type { Provider, ProviderRequest } from "../core/providers/types.js";
import { tokenizerFor } from "../core/templates/tokens.js";
import { batchBackendFor } from "../core/batch/backend.js";
import { BatchProvider, type BatchProgress } from "../core/batch/provider.js";

/** How long one call may wait for its batch: the 24 h completion window and a margin. */
export const BATCH_WAIT_MS = 26 * 3600_000;
/**
 * Items handed to the batch provider at once (the runner keeps one worker per item in flight): one
 * OpenAI batch's worth. A run with more items submits further batches as earlier ones finish.
 */
export const BATCH_RUNNER_CONCURRENCY = 50_000;

export interface BatchSettings {
  batch?: boolean;
  /** Time between polls of a batch (default 30 s). */
  batchPollMs?: number;
  /** The most prompt tokens of this run in unfinished batches at once (see the file comment). */
  batchMaxEnqueuedTokens?: number;
}

export interface BatchRunnerShape {
  concurrency: number;
  timeoutMs: number;
  rpm?: number;
  tpm?: number;
}

/** Whether a provider config can run through a batch API. */
export function supportsBatch(config: ProviderConfig): boolean {
  return config.provider === "openai" || config.provider === "anthropic";
}

/**
 * Runs `fn` with the provider (and runner options) for batch mode when `settings.batch`, else
 * unchanged. Throws a clear error for a provider without a batch API.
 */
export async function withBatchMode<T, O extends BatchRunnerShape>(
  provider: Provider,
  config: ProviderConfig,
  options: O,
  runDir: string,
  settings: BatchSettings,
  onProgress: ((p: BatchProgress) => void) | undefined,
  fn: (provider: Provider, options: O) => Promise<T>,
): Promise<T> {
  if (!settings.batch) return fn(provider, options);
  const backend = batchBackendFor(config);
  if (!backend) throw new Error(`batch mode: provider ${config.provider} has no batch API (openai and anthropic have one)`);
  let limit = {};
  if (settings.batchMaxEnqueuedTokens !== undefined) {
    const tokenizer = await tokenizerFor(config);
    limit = { maxEnqueuedTokens: settings.batchMaxEnqueuedTokens, countTokens: (r: ProviderRequest) => tokenizer.countMessages(r.messages) };
  }
  const bp = await BatchProvider.create(provider, backend, {
    runDir,
    concurrency: options.concurrency,
    ...limit,
    // The run's rpm / tpm pace the ordinary-path calls (retries of batch errors); the runner
    // itself hands every item over at once.
    ...(options.rpm !== undefined || options.tpm !== undefined ? { rateLimits: { ...(options.rpm !== undefined ? { rpm: options.rpm } : {}), ...(options.tpm !== undefined ? { tpm: options.tpm } : {}) } } : {}),
    ...(settings.batchPollMs !== undefined ? { pollMs: settings.batchPollMs } : {}),
    ...(onProgress ? { onProgress } : {}),
  });
  const batchOptions: O = { ...options, concurrency: BATCH_RUNNER_CONCURRENCY, timeoutMs: Math.max(options.timeoutMs, BATCH_WAIT_MS) };
  delete batchOptions.rpm;
  delete batchOptions.tpm;
  try {
    return await fn(bp, batchOptions);
  } finally {
    await bp.dispose();
  }
}
