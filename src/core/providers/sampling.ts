/**
 * Sampling defaults per provider, as in the paper's appendix A ("We use gpt-4o-2024-05-13 ... We use
 * default generation hyperparameters. For Claude, LLama3, and Mistral generations, we set the
 * temperature hyperparameter as 0.9."):
 *
 * - `openai`: the API's defaults; no temperature is sent.
 * - `openai-compatible`, `llamacpp` (open models: Llama 3, Mistral, fine-tuned ones): temperature 0.9.
 * - `anthropic`: the paper's 0.9 cannot be applied: the SDK's API version (2026-10-21) rejects
 *   `temperature` / `top_p` (any value), so Claude runs at the API's own sampling. A documented
 *   deviation, recorded with every run.
 * - `baseline`: deterministic, no sampling.
 *
 * A temperature set by the user (`--temperature`, a template's defaults, the extension's setting)
 * overrides the default; `samplingRecord` says which applied, for run.json `params.protocol`.
 */
import type { ProviderId } from "./registry.js";

/** The paper's temperature for non-OpenAI models. */
export const PAPER_OPEN_MODEL_TEMPERATURE = 0.9;

/** The temperature a provider uses when none is set; undefined = the API's own default (none sent). */
export function defaultTemperature(provider: ProviderId | string): number | undefined {
  return provider === "openai-compatible" || provider === "llamacpp" ? PAPER_OPEN_MODEL_TEMPERATURE : undefined;
}

export interface SamplingRecord {
  /** The temperature requests are sampled at; "api-default" when none is sent; null where none applies. */
  temperature: number | "api-default" | null;
  /** Where it comes from. */
  source: "set" | "paper-default" | "api-default" | "api-rejects-temperature" | "deterministic";
}

/** What sampling a run on `provider` uses given the temperature the user set (if any). */
export function samplingRecord(provider: ProviderId | string, setTemperature: unknown): SamplingRecord {
  if (provider === "baseline") return { temperature: null, source: "deterministic" };
  if (typeof setTemperature === "number") return { temperature: setTemperature, source: "set" };
  if (provider === "anthropic") return { temperature: "api-default", source: "api-rejects-temperature" };
  const t = defaultTemperature(provider);
  return t === undefined ? { temperature: "api-default", source: "api-default" } : { temperature: t, source: "paper-default" };
}
