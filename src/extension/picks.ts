/**
 * The quick picks a run asks with (dimension, provider, model, limit), each preselecting the last
 * choice for that kind of run (workspaceState), and the "Select Model" command.
 */
import * as vscode from "vscode";
import type { Dimension } from "../core/data/schema.js";
import { PROVIDER_IDS, type ProviderId } from "../core/providers/registry.js";
import { registeredModelsFor } from "../app/models.js";
import { configuredModel, type PreflabConfig } from "./config.js";
import type { Services } from "./services.js";
import { needsKey } from "./secrets.js";
import { DIMENSION_LABEL, DIMENSION_LIST } from "./users-index.js";

export type RunKindChoice = "rm" | "generate" | "judge" | "prompts";

export interface RunChoice {
  dimensions: Dimension[];
  provider: ProviderId;
  /** Model name; for llamacpp the GGUF path. */
  model: string;
  /** First N users; null = all. */
  limit: number | null;
}

const PROVIDER_LABEL: Record<ProviderId, string> = {
  baseline: "Baseline",
  openai: "OpenAI",
  anthropic: "Anthropic",
  "openai-compatible": "OpenAI-compatible server",
  llamacpp: "Local GGUF model (llama.cpp)",
  "scalar-reward": "Served reward model (scalar rewards)",
};

export const GENERATION_DEFAULT_DIMENSIONS: Dimension[] = ["style", "background_knowledge", "informativeness"];

interface Item<T> extends vscode.QuickPickItem {
  value: T;
}

const lastKey = (kind: RunKindChoice) => `preflab.last.${kind}`;
const recentModelsKey = (p: ProviderId) => `preflab.recentModels.${p}`;

export class Picks {
  constructor(private readonly s: Services) {}

  last(kind: RunKindChoice): Partial<RunChoice> {
    return this.s.context.workspaceState.get<Partial<RunChoice>>(lastKey(kind)) ?? {};
  }

  async remember(kind: RunKindChoice, choice: RunChoice): Promise<void> {
    await this.s.context.workspaceState.update(lastKey(kind), choice);
    const recent = this.s.context.workspaceState.get<string[]>(recentModelsKey(choice.provider)) ?? [];
    await this.s.context.workspaceState.update(recentModelsKey(choice.provider), [choice.model, ...recent.filter((m) => m !== choice.model)].slice(0, 8));
  }

  /** Shows items with the remembered one first and marked; undefined when dismissed. */
  private async pick<T>(items: Item<T>[], opts: { title: string; placeHolder: string; last?: T; same?: (a: T, b: T) => boolean }): Promise<T | undefined> {
    const same = opts.same ?? ((a: T, b: T) => JSON.stringify(a) === JSON.stringify(b));
    if (opts.last !== undefined) {
      const i = items.findIndex((it) => same(it.value, opts.last as T));
      if (i > 0) items.unshift(...items.splice(i, 1));
      if (i >= 0) items[0]!.detail = [items[0]!.detail, "last used"].filter(Boolean).join(" · ");
    }
    const picked = await vscode.window.showQuickPick(items, { title: opts.title, placeHolder: opts.placeHolder, ignoreFocusOut: true, matchOnDescription: true });
    return picked?.value;
  }

  async dimensions(kind: RunKindChoice, title: string): Promise<Dimension[] | undefined> {
    const all = kind === "generate" ? GENERATION_DEFAULT_DIMENSIONS : [...DIMENSION_LIST];
    const items: Item<Dimension[]>[] = [
      { label: "All dimensions", description: all.map((d) => DIMENSION_LABEL[d]).join(", "), value: all },
      ...DIMENSION_LIST.map((d) => ({ label: DIMENSION_LABEL[d], description: d, value: [d] })),
    ];
    return this.pick(items, { title, placeHolder: "Which preference dimension(s)?", last: this.last(kind).dimensions });
  }

  async provider(kind: RunKindChoice, title: string, allowed: readonly ProviderId[] = PROVIDER_IDS): Promise<ProviderId | undefined> {
    const cfg = this.s.config();
    const trusted = this.s.trusted;
    const items: Item<ProviderId>[] = [];
    for (const p of allowed) {
      let description: string;
      if (p === "baseline") description = "no network, no model: a TF-IDF + style reward model";
      else if (p === "llamacpp") description = cfg.llamacpp.modelPath ? `GGUF: ${cfg.llamacpp.modelPath}` : "local GGUF file, CPU or GPU";
      else if (p === "scalar-reward") description = "a fine-tuned Bradley-Terry reward model served by vLLM (/classify): a model registered in .preflab/models.json";
      else if (p === "openai-compatible") description = cfg.openaiCompatible.baseUrl ? `server: ${cfg.openaiCompatible.baseUrl}` : "vLLM, llama-server, Ollama… (set preflab.openaiCompatible.baseUrl)";
      else description = needsKey(p) && (await this.s.keys.get(p)) ? "cloud API · key available" : "cloud API · no key yet (Preflab: Set API Key)";
      if (!trusted && p !== "baseline") description = `$(lock) disabled in Restricted Mode · ${description}`;
      items.push({ label: PROVIDER_LABEL[p], description, value: p, detail: p === cfg.provider ? "default (preflab.provider)" : undefined });
    }
    const last = this.last(kind).provider ?? cfg.provider;
    return this.pick(items, { title, placeHolder: "Which provider?", last: allowed.includes(last) ? last : undefined });
  }

  async model(kind: RunKindChoice, provider: ProviderId, title: string, cfg: PreflabConfig = this.s.config()): Promise<string | undefined> {
    if (provider === "baseline") return "tfidf-style";
    const recent = this.s.context.workspaceState.get<string[]>(recentModelsKey(provider)) ?? [];
    const configured = provider === "llamacpp" ? cfg.llamacpp.modelPath : configuredModel(cfg, provider);
    const models = [...new Set([configured, ...recent].filter((m): m is string => !!m))];
    const OTHER = "\u0000other";
    // Registered fine-tuned models (.preflab/models.json) by name: the session resolves the name.
    const registered = await registeredModelsFor(this.s.baseDir(), provider).catch(() => []);
    const items: Item<string>[] = [
      ...registered.map((m) => ({ label: m.name, description: `fine-tuned · ${m.model}`, detail: m.baseUrl ? `served at ${m.baseUrl}` : undefined, value: m.name })),
      ...models.filter((m) => !registered.some((r) => r.name === m)).map((m) => ({ label: m, description: m === configured ? "from settings" : "recent", value: m })),
    ];
    items.push({ label: provider === "llamacpp" ? "$(folder-opened) Browse for a GGUF file…" : "$(edit) Other model…", value: OTHER });
    const last = this.last(kind);
    let model = await this.pick(items, { title, placeHolder: provider === "llamacpp" ? "Which GGUF model file?" : "Which model?", last: last.provider === provider ? last.model : undefined });
    if (model !== OTHER) return model;
    if (provider === "llamacpp") {
      const uris = await vscode.window.showOpenDialog({ title: "GGUF model file", canSelectMany: false, filters: { "GGUF models": ["gguf"] } });
      return uris?.[0]?.fsPath;
    }
    model = await vscode.window.showInputBox({ title, prompt: `Model name for ${PROVIDER_LABEL[provider]}`, ignoreFocusOut: true, validateInput: (v) => (v.trim() ? undefined : "a model name is required") });
    return model?.trim() || undefined;
  }

  async limit(kind: RunKindChoice, title: string, total: number | undefined): Promise<number | null | undefined> {
    const sizes = [12, 48, 200].filter((n) => total === undefined || n < total);
    const items: Item<number | null>[] = [
      { label: total !== undefined ? `All ${total} users` : "All users", value: null },
      ...sizes.map((n) => ({ label: `First ${n} users`, description: "a quick look", value: n })),
      { label: "$(edit) Custom…", value: -1 },
    ];
    const picked = await this.pick(items, { title, placeHolder: "How many synthetic users?", last: this.last(kind).limit });
    if (picked !== -1) return picked;
    const v = await vscode.window.showInputBox({
      title,
      prompt: "Evaluate the first N synthetic users",
      ignoreFocusOut: true,
      validateInput: (s) => (/^\d+$/.test(s.trim()) && Number(s) > 0 ? undefined : "a positive whole number"),
    });
    return v === undefined ? undefined : Number(v.trim());
  }

  /** preflab.selectModel: the default provider and its model, saved to settings. */
  async selectModel(): Promise<void> {
    const provider = await this.provider("rm", "Preflab: Select Model (1/2)");
    if (!provider) return;
    const model = await this.model("rm", provider, "Preflab: Select Model (2/2)");
    if (!model) return;
    const target = vscode.workspace.workspaceFolders?.length ? vscode.ConfigurationTarget.Workspace : vscode.ConfigurationTarget.Global;
    const conf = vscode.workspace.getConfiguration("preflab");
    await conf.update("provider", provider, target);
    const key = { openai: "openai.model", anthropic: "anthropic.model", "openai-compatible": "openaiCompatible.model", llamacpp: "llamacpp.modelPath", baseline: undefined, "scalar-reward": undefined }[provider];
    if (key) await conf.update(key, model, target);
    this.s.log.info(`default model set to ${provider}/${model}`);
    vscode.window.showInformationMessage(`Preflab: runs now default to ${PROVIDER_LABEL[provider]} · ${model}.`);
  }
}
