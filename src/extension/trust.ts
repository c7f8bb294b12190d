/**
 * Workspace trust (package.json capabilities.untrustedWorkspaces = "limited"). In Restricted Mode
 * the views, the bundled sample and the baseline provider work; anything that sends workspace
 * data to a cloud API or loads native code / model files named by workspace settings is refused
 * with a message that says why and how to lift it. Pure: the caller passes `isTrusted`.
 */
import type { GatedAction, RunGate } from "../app/gate.js";
import type { ProviderId } from "../core/providers/registry.js";

export class RestrictedModeError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "RestrictedModeError";
  }
}

/** Why `provider` may not run in this workspace, or undefined when it may. */
export function trustRefusal(provider: ProviderId, trusted: boolean): string | undefined {
  if (trusted || provider === "baseline") return undefined;
  if (provider === "llamacpp") {
    return (
      "Preflab: local model loading (llamacpp) is disabled in Restricted Mode: it loads native code and a model file named by this workspace's settings. " +
      "Trust the workspace to use it; the baseline provider works here."
    );
  }
  return (
    `Preflab: the ${provider} provider sends this workspace's data to a cloud API, which is disabled in Restricted Mode. ` +
    "Trust the workspace to use it; the baseline provider works here."
  );
}

export function assertProviderAllowed(provider: ProviderId, trusted: boolean): void {
  const why = trustRefusal(provider, trusted);
  if (why) throw new RestrictedModeError(why);
}

const GATE_WHY: Record<GatedAction, string> = {
  network: "calls a network API",
  key: "sends an API key",
  model: "loads a local model (native code and a model file named by this workspace)",
  process: "starts a process (ssh, sky) named by this workspace's files",
};

/**
 * The extension's RunGate: follows workspace trust. In Restricted Mode every gated action throws a
 * RestrictedModeError that says what was refused and how to lift it; once trusted, all pass.
 * `isTrusted` is read at each check (vscode.workspace.isTrusted), so granting trust applies at once.
 */
export function workspaceTrustGate(isTrusted: () => boolean): RunGate {
  return {
    check(action: GatedAction, detail: string): void {
      if (isTrusted()) return;
      throw new RestrictedModeError(`Preflab: ${detail} ${GATE_WHY[action]}, which is disabled in Restricted Mode. Trust the workspace to use it; the views still show what is on disk.`);
    },
  };
}
