/**
 * The registry of trained models: `<workspace>/.preflab/models.json`. A fine-tuning job that
 * succeeds registers its result here so evaluations can use it by name:
 *
 *   {"version": 1, "models": [
 *     {"name": "rs-sft-gpt", "provider": "openai", "model": "ft:gpt-4o-mini-2024-07-18:org:rs-sft:abc123",
 *      "kind": "generation", "jobId": "ft-...", "method": "sft", "baseModel": "gpt-4o-mini-2024-07-18", "createdAt": "..."},
 *     {"name": "llama-rm", "provider": "scalar-reward", "model": "llama-rm", "baseUrl": "http://gpu:8000", "kind": "reward", ...}]}
 *
 * `provider` is a provider id evaluations take (`openai`, `openai-compatible`), or `scalar-reward`
 * for a served reward model (`preflab rs --rm-provider scalar-reward`). No key is ever stored: keys
 * come from the environment as for any other run. Writes are atomic (temp file + rename).
 */
import { readFile } from "node:fs/promises";
import * as path from "node:path";
import { writeJsonFileAtomic } from "./fsutil.js";

export const MODELS_FILE = path.join(".preflab", "models.json");

export type RegisteredProvider = "openai" | "openai-compatible" | "scalar-reward";

export interface RegisteredModel {
  name: string;
  provider: RegisteredProvider;
  model: string;
  baseUrl?: string;
  /** generation (SFT / DPO) or reward (a Bradley-Terry reward model). */
  kind: "generation" | "reward";
  jobId?: string;
  method?: "sft" | "dpo" | "rm";
  baseModel?: string;
  /** Where the trained weights are (open-weight jobs). */
  artifact?: string;
  createdAt: string;
}

interface ModelsFile {
  version: 1;
  models: RegisteredModel[];
}

export function modelsFile(root: string): string {
  return path.join(root, MODELS_FILE);
}

export async function listModels(root: string): Promise<RegisteredModel[]> {
  let text: string;
  try {
    text = await readFile(modelsFile(root), "utf8");
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === "ENOENT") return [];
    throw e;
  }
  let parsed: ModelsFile;
  try {
    parsed = JSON.parse(text) as ModelsFile;
  } catch (e) {
    throw new Error(`${modelsFile(root)}: invalid JSON (${(e as Error).message})`);
  }
  if (parsed.version !== 1 || !Array.isArray(parsed.models)) throw new Error(`${modelsFile(root)}: not a Preflab model registry (version 1)`);
  return parsed.models;
}

/** Adds a model, replacing one of the same name. */
export async function registerModel(root: string, model: RegisteredModel): Promise<RegisteredModel> {
  if (!model.name.trim()) throw new Error("a registered model needs a name");
  if (model.provider !== "openai" && !model.baseUrl) throw new Error(`a ${model.provider} model needs a base URL`);
  const models = (await listModels(root)).filter((m) => m.name !== model.name);
  models.push(model);
  await writeJsonFileAtomic(modelsFile(root), { version: 1, models } satisfies ModelsFile);
  return model;
}

export async function findModel(root: string, name: string): Promise<RegisteredModel | undefined> {
  return (await listModels(root)).find((m) => m.name === name);
}

/** The provider flags that select a registered model in `preflab rm|generate|judge|rs`. */
export function providerFlags(m: RegisteredModel, prefix = ""): string[] {
  const p = prefix;
  const flags = [`--${p}provider`, m.provider, `--${p}model`, m.model];
  if (m.baseUrl) flags.push(`--${p}base-url`, m.baseUrl);
  return flags;
}
