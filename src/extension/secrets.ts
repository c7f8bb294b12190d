/**
 * API keys for the cloud providers, kept only in VS Code's SecretStorage (the OS keychain) or
 * read from the environment (API_KEY_ENV). Never in settings, run files, logs or webviews: every
 * key handed out is registered with the log's redaction and passed to the runner as a secret to
 * redact from what it writes.
 */
import * as vscode from "vscode";
import { API_KEY_ENV, type ProviderId } from "../core/providers/registry.js";
import type { Log } from "./log.js";

export const KEY_PROVIDERS = ["openai", "anthropic", "openai-compatible"] as const satisfies readonly ProviderId[];
export type KeyProvider = (typeof KEY_PROVIDERS)[number];

const LABEL: Record<KeyProvider, string> = {
  openai: "OpenAI",
  anthropic: "Anthropic",
  "openai-compatible": "OpenAI-compatible server",
};

const secretId = (p: KeyProvider) => `preflab.apiKey.${p}`;

export function needsKey(p: ProviderId): p is KeyProvider {
  return (KEY_PROVIDERS as readonly string[]).includes(p);
}

export class ApiKeys {
  constructor(
    private readonly storage: vscode.SecretStorage,
    private readonly log: Log,
  ) {}

  /** The key for a provider: SecretStorage first, then its environment variable. */
  async get(p: ProviderId): Promise<{ key: string; from: "secret storage" | string } | undefined> {
    if (!needsKey(p)) return undefined;
    const stored = await this.storage.get(secretId(p));
    if (stored) {
      this.log.addSecret(stored);
      return { key: stored, from: "secret storage" };
    }
    const env = API_KEY_ENV[p];
    const v = env ? process.env[env] : undefined;
    if (v) {
      this.log.addSecret(v);
      return { key: v, from: env! };
    }
    return undefined;
  }

  /** preflab.setApiKey: pick a provider, type the key (masked), store it; an empty key removes it. */
  async promptAndStore(preset?: string): Promise<void> {
    let p: KeyProvider | undefined = preset && needsKey(preset as ProviderId) ? (preset as KeyProvider) : undefined;
    if (!p) {
      const items = await Promise.all(
        KEY_PROVIDERS.map(async (id) => ({
          label: LABEL[id],
          description: (await this.storage.get(secretId(id))) ? "key stored" : API_KEY_ENV[id] && process.env[API_KEY_ENV[id]] ? `using ${API_KEY_ENV[id]}` : "no key",
          id,
        })),
      );
      const pick = await vscode.window.showQuickPick(items, { title: "Preflab: Set API Key", placeHolder: "Which provider's key?" });
      if (!pick) return;
      p = pick.id;
    }
    const key = await vscode.window.showInputBox({
      title: `Preflab: ${LABEL[p]} API key`,
      prompt: "Stored in VS Code's secret storage (your OS keychain); never in settings, logs or run files. Leave empty to remove the stored key.",
      password: true,
      ignoreFocusOut: true,
      placeHolder: p === "anthropic" ? "sk-ant-..." : "sk-...",
    });
    if (key === undefined) return;
    if (key.trim() === "") {
      await this.storage.delete(secretId(p));
      this.log.info(`API key for ${p} removed from secret storage`);
      vscode.window.showInformationMessage(`Preflab: the stored ${LABEL[p]} API key was removed.`);
      return;
    }
    this.log.addSecret(key.trim());
    await this.storage.store(secretId(p), key.trim());
    this.log.info(`API key for ${p} stored in secret storage`);
    vscode.window.showInformationMessage(`Preflab: ${LABEL[p]} API key stored in secret storage.`);
  }
}
