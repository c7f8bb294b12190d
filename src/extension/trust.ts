/**
 * Workspace trust (package.json capabilities.untrustedWorkspaces = "limited"). In Restricted Mode
 * the views, the bundled sample and the baseline provider work; anything that sends workspace
 * data to a cloud API or loads native code / model files named by workspace settings is refused
 * with a message that says why and how to lift it. Pure: the caller passes `isTrusted`.
 */
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
