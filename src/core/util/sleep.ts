/**
 * Waits `ms`; resolves true when the time passed, false as soon as `signal` aborts. The abort
 * listener is removed either way, so a loop that polls with one signal never accumulates
 * listeners (no MaxListenersExceededWarning however long it polls).
 */
export function abortableSleep(ms: number, signal?: AbortSignal): Promise<boolean> {
  if (signal?.aborted) return Promise.resolve(false);
  return new Promise((resolve) => {
    const onAbort = () => {
      clearTimeout(t);
      resolve(false);
    };
    const t = setTimeout(() => {
      signal?.removeEventListener("abort", onAbort);
      resolve(true);
    }, ms);
    signal?.addEventListener("abort", onAbort, { once: true });
  });
}
