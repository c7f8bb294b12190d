/**
 * Registered fine-tuned models (`.preflab/models.json`, written by src/core/finetune/models.ts when
 * a job succeeds) as choices wherever a provider and model are chosen: `--model NAME` in the CLI,
 * the extension's model picks. Resolution happens in resolveProviderConfig (provider.ts).
 */
import { listModels, modelsFile, type RegisteredModel } from "../core/finetune/models.js";
import { isProviderId, type ProviderId } from "../core/providers/registry.js";

export type { RegisteredModel };
export { modelsFile };

export async function findRegisteredModel(root: string, name: string): Promise<RegisteredModel | undefined> {
  return (await listModels(root)).find((m) => m.name === name);
}

/** The registered generation models a provider can run (for pickers), newest first. */
export async function registeredModelsFor(root: string, provider: ProviderId): Promise<RegisteredModel[]> {
  const all = await listModels(root).catch(() => []);
  // A served reward model (scalar-reward) is registered as kind "reward"; the others as generation models.
  return all.filter((m) => (m.kind === "generation" || m.provider === "scalar-reward") && isProviderId(m.provider) && m.provider === provider).sort((a, b) => b.createdAt.localeCompare(a.createdAt));
}
