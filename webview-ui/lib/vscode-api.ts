/**
 * The webview side of the host channel: a typed wrapper over `acquireVsCodeApi()` (which may be
 * called once per page), plus a typed listener for host messages.
 */

interface VsCodeApi<S> {
  postMessage(message: unknown): void;
  getState(): S | undefined;
  setState(state: S): S;
}

import * as z from "zod/mini";
import { hostEnvelope } from "../../src/protocol/webview-schema.js";

declare function acquireVsCodeApi<S>(): VsCodeApi<S>;

export interface HostChannel<In, Out, S> {
  post(message: Out): void;
  getState(): S | undefined;
  /** Merges `patch` into the saved state. */
  patchState(patch: Partial<S>): void;
  onMessage(handler: (message: In) => void): void;
}

/**
 * `types`: the host message types this page knows; anything else (not an object, an unknown type)
 * is dropped silently. `schema` (src/protocol/webview-host-schema.ts): a message of a known type
 * whose payload does not match is dropped before the page renders it, and reported to the host
 * (`invalidHostMessage`, with the first problems).
 */
export function connect<In extends { type: string }, Out, S extends object>(types: readonly In["type"][], schema: z.ZodMiniType<In>): HostChannel<In, Out, S> {
  const envelope = hostEnvelope(types);
  const api = acquireVsCodeApi<S>();
  return {
    post: (m) => api.postMessage(m),
    getState: () => api.getState(),
    patchState: (patch) => api.setState({ ...(api.getState() ?? ({} as S)), ...patch }),
    onMessage(handler) {
      window.addEventListener("message", (ev: MessageEvent) => {
        // Only the host posts into a webview; still, a message must match the schema to be read.
        const data: unknown = ev.data;
        if (!z.safeParse(envelope, data).success) return;
        const r = z.safeParse(schema, data);
        if (!r.success) {
          const type = (data as { type: string }).type;
          const where = r.error.issues.slice(0, 3).map((i) => `${i.path.join(".") || "(message)"}: ${i.message}`).join("; ");
          api.postMessage({ type: "invalidHostMessage", reason: `${type}: ${where}`.slice(0, 2000) });
          return;
        }
        handler(r.data);
      });
    },
  };
}

/** Saves the page's scroll position in the webview state (at most once a frame) while `active()`. */
export function persistScroll<S extends { scrollY?: number }>(host: HostChannel<unknown, unknown, S>, active: () => boolean): void {
  let queued = false;
  window.addEventListener("scroll", () => {
    if (queued) return;
    queued = true;
    requestAnimationFrame(() => {
      queued = false;
      if (active()) host.patchState({ scrollY: Math.round(window.scrollY) } as Partial<S>);
    });
  });
}

/** Shows a status line; `error` styles it as an error. */
export function showStatus(el: HTMLElement, text: string, error = false): void {
  el.textContent = text;
  el.classList.toggle("error", error);
}
