/**
 * The one gate every host passes before anything leaves the machine or runs native code:
 * sending a key, calling a network API, loading a model, starting a process. The extension's
 * gate follows workspace trust (Restricted Mode refuses all four); the CLI's allows what the
 * command line asked for. Run sessions, fine-tuning polling, code lenses and language-server
 * features all call `check` before acting, so there is no per-command trust check to forget.
 */
export type GatedAction = "network" | "key" | "model" | "process";

export interface RunGate {
  /** Throws (with a message that says why and how to lift it) when `action` may not happen. */
  check(action: GatedAction, detail: string): void;
}

/** The CLI's gate: the user typed the command, so every action it implies is allowed. */
export const ALLOW_ALL: RunGate = { check() {} };
