/**
 * The extension's side of the key-destination policy (src/app/origins.ts): origins the user
 * confirmed, remembered per origin and key in globalState (the user's, never the workspace's),
 * the confirmation prompt (modal, showing the full origin and the file that named it), and the
 * command that lists and revokes them (preflab.manageAllowedOrigins).
 */
import * as vscode from "vscode";
import type { RunGate } from "../app/gate.js";
import { KeyDestinationPolicy, type KeyName, type OriginStore } from "../app/origins.js";

export const ALLOWED_ORIGINS_KEY = "preflab.allowedOrigins";

/** OriginStore over a Memento (globalState): a sorted list of "key origin" strings. */
export class MementoOriginStore implements OriginStore {
  constructor(private readonly memento: Pick<vscode.Memento, "get" | "update">) {}

  private entries(): string[] {
    const v = this.memento.get<unknown>(ALLOWED_ORIGINS_KEY);
    return Array.isArray(v) ? v.filter((x): x is string => typeof x === "string") : [];
  }

  has(key: KeyName, origin: string): boolean {
    return this.entries().includes(`${key} ${origin}`);
  }

  async add(key: KeyName, origin: string): Promise<void> {
    const e = new Set(this.entries());
    e.add(`${key} ${origin}`);
    await this.memento.update(ALLOWED_ORIGINS_KEY, [...e].sort());
  }

  async remove(key: KeyName, origin: string): Promise<void> {
    await this.memento.update(
      ALLOWED_ORIGINS_KEY,
      this.entries().filter((x) => x !== `${key} ${origin}`),
    );
  }

  list(): { key: KeyName; origin: string }[] {
    return this.entries().map((x) => {
      const i = x.indexOf(" ");
      return { key: x.slice(0, i) as KeyName, origin: x.slice(i + 1) };
    });
  }
}

const KEY_LABEL: Record<KeyName, string> = { openai: "your OpenAI API key", anthropic: "your Anthropic API key", "openai-compatible": "your OpenAI-compatible server key", none: "requests (no key)" };

/** The extension's policy: the trust gate, globalState, and a modal prompt that shows the full origin. */
export function extensionKeyPolicy(gate: RunGate, memento: Pick<vscode.Memento, "get" | "update">): KeyDestinationPolicy {
  return new KeyDestinationPolicy({
    gate,
    store: new MementoOriginStore(memento),
    keylessNeedsConfirmation: true,
    allowHint: () => 'confirm it when asked, or use the user setting for the base URL; "Preflab: Manage Allowed API Origins" lists what you allowed',
    confirm: async (q) => {
      const allow = `Allow ${q.origin}`;
      if (q.kind === "ssh") {
        const pick = await vscode.window.showWarningMessage(
          `Run ssh to ${q.origin.slice("ssh://".length)}?`,
          {
            modal: true,
            detail:
              `${q.file ? `The workspace file ${q.file}` : "A workspace file"} names this host as a Slurm login node${q.what ? ` for ${q.what}` : ""}. ` +
              `Preflab would connect with your ssh configuration and credentials and run squeue / sacct / scancel / tail there. ` +
              `Workspace files can be written by anyone who wrote this repository. Allow only a host you know. ` +
              `Your answer is remembered; revoke it with "Preflab: Manage Allowed API Origins".`,
          },
          allow,
        );
        return pick === allow;
      }
      const pick = await vscode.window.showWarningMessage(
        `Send ${KEY_LABEL[q.key]} to ${q.origin}?`,
        {
          modal: true,
          detail:
            `${q.file ? `The workspace file ${q.file}` : "A workspace file"} names ${q.origin} as the API server${q.what ? ` for ${q.what}` : ""}. ` +
            `Workspace files can be written by anyone who wrote this repository. Allow only a server you know. ` +
            `Your answer is remembered for this origin; revoke it with "Preflab: Manage Allowed API Origins".`,
        },
        allow,
      );
      return pick === allow;
    },
  });
}

/** preflab.manageAllowedOrigins: pick remembered origins to revoke. */
export async function manageAllowedOrigins(policy: KeyDestinationPolicy): Promise<void> {
  const entries = policy.store.list();
  if (entries.length === 0) {
    void vscode.window.showInformationMessage("Preflab: no API origins are allowed beyond the official endpoints and your settings.");
    return;
  }
  const picks = await vscode.window.showQuickPick(
    entries.map((e) => ({ label: e.origin, description: KEY_LABEL[e.key], entry: e })),
    { title: "Preflab: Allowed API Origins", placeHolder: "Select the origins to revoke", canPickMany: true },
  );
  if (!picks || picks.length === 0) return;
  for (const p of picks) await policy.store.remove(p.entry.key, p.entry.origin);
  void vscode.window.showInformationMessage(`Preflab: revoked ${picks.map((p) => p.label).join(", ")}.`);
}
