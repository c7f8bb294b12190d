/**
 * Shared fault mapping for the HTTP providers (openai.ts, anthropic.ts). Both official SDKs raise
 * the same shapes (status + Headers, a user-abort error, a connection error, a connection-timeout
 * error), so each provider does its own `instanceof` checks and hands the facts to these helpers.
 * No SDK is imported here, so loading one provider never loads the other's SDK.
 */
import { ProviderError, type ProviderErrorKind } from "./types.js";

/** Longest error message kept from a response body: enough to debug, never a whole page. */
const MAX_MESSAGE = 500;

type HeaderBag = { get(name: string): string | null } | undefined | null;

/**
 * Milliseconds to wait from `retry-after-ms` (milliseconds) or `retry-after` (seconds, or an
 * HTTP date). Undefined when neither header is present or parses.
 */
export function parseRetryAfter(headers: HeaderBag, now = Date.now()): number | undefined {
  if (!headers) return undefined;
  const ms = headers.get("retry-after-ms");
  if (ms != null && ms.trim() !== "") {
    const n = Number(ms);
    if (Number.isFinite(n) && n >= 0) return n;
  }
  const ra = headers.get("retry-after");
  if (ra != null && ra.trim() !== "") {
    const secs = Number(ra);
    if (Number.isFinite(secs) && secs >= 0) return secs * 1000;
    const at = Date.parse(ra);
    if (Number.isFinite(at)) return Math.max(0, at - now);
  }
  return undefined;
}

/** The error kind for an HTTP status that is not 2xx. */
export function kindForStatus(status: number): ProviderErrorKind {
  if (status === 429) return "rate_limit";
  if (status === 401 || status === 403) return "auth";
  if (status === 408) return "timeout";
  if (status === 413) return "input_too_long";
  if (status >= 500) return "server"; // incl. Anthropic's 529 overloaded
  return "bad_request";
}

/** Trims a message from the wire to something safe to keep in a run log. */
export function shortMessage(message: unknown): string {
  const s = typeof message === "string" ? message : message instanceof Error ? message.message : String(message);
  const one = s.replace(/\s+/g, " ").trim();
  return one.length > MAX_MESSAGE ? one.slice(0, MAX_MESSAGE) + "…" : one;
}

/** A ProviderError for a non-2xx HTTP response. */
export function statusError(provider: string, status: number, headers: HeaderBag, message: unknown, cause?: unknown): ProviderError {
  const kind = kindForStatus(status);
  const retryAfterMs = kind === "rate_limit" || kind === "server" ? parseRetryAfter(headers) : undefined;
  return new ProviderError(kind, `${provider}: HTTP ${status}: ${shortMessage(message)}`, { status, retryAfterMs, cause });
}

/**
 * The error for a call that ended because its signal fired: a timeout when the signal's reason is
 * a TimeoutError (AbortSignal.timeout, or the runner's per-request timer), else a caller abort.
 */
export function abortError(provider: string, signal: AbortSignal | undefined, cause?: unknown): ProviderError {
  const reason: unknown = signal?.reason;
  const isTimeout = reason instanceof Error && reason.name === "TimeoutError";
  return isTimeout
    ? new ProviderError("timeout", `${provider}: request timed out`, { cause })
    : new ProviderError("aborted", `${provider}: request aborted`, { cause });
}

/**
 * Maps an error that is not one of the SDK's classified errors: an abort while the body was being
 * read, a socket closed mid-body (undici's "terminated"), a body that is not JSON. Anything else is
 * returned unchanged: an unexpected error is a bug to surface, not a fault to retry.
 */
export function transportError(provider: string, e: unknown, signal: AbortSignal | undefined): unknown {
  if (e instanceof ProviderError) return e;
  if (signal?.aborted) return abortError(provider, signal, e);
  if (e instanceof SyntaxError) return new ProviderError("malformed", `${provider}: response body is not valid JSON: ${shortMessage(e)}`, { cause: e });
  if (e instanceof Error && (e.name === "AbortError" || e.name === "TimeoutError")) return abortError(provider, signal, e);
  if (e instanceof Error) {
    const text = `${e.message}${e.cause instanceof Error ? ` (${e.cause.message})` : ""}`;
    const code = (e as { code?: unknown }).code ?? (e.cause as { code?: unknown } | undefined)?.code;
    if (/terminated|fetch failed|socket|other side closed|network/i.test(text) || (typeof code === "string" && /^(E[A-Z]+|UND_ERR)/.test(code))) {
      return new ProviderError("network", `${provider}: connection failed: ${shortMessage(text)}`, { cause: e });
    }
  }
  return e;
}

type ErrorClass = abstract new (...args: never[]) => Error;

/**
 * The error classes of an official SDK (openai and @anthropic-ai/sdk export the same four, each
 * from its own module), so both providers map their SDK's faults through one function.
 */
export interface SdkErrorClasses {
  APIUserAbortError: ErrorClass;
  APIConnectionTimeoutError: ErrorClass;
  APIConnectionError: ErrorClass;
  APIError: ErrorClass;
}

/** Maps an SDK fault to a ProviderError (caller abort, timeout, connection, HTTP status, transport). */
export function mapSdkError(provider: string, sdk: SdkErrorClasses, e: unknown, signal: AbortSignal | undefined): unknown {
  if (e instanceof sdk.APIUserAbortError) return abortError(provider, signal, e);
  if (e instanceof sdk.APIConnectionTimeoutError) return signal?.aborted ? abortError(provider, signal, e) : new ProviderError("timeout", `${provider}: request timed out`, { cause: e });
  if (e instanceof sdk.APIConnectionError) {
    if (signal?.aborted) return abortError(provider, signal, e);
    const cause = e.cause instanceof Error ? `: ${e.cause.message}` : "";
    return new ProviderError("network", `${provider}: connection failed${shortMessage(cause)}`, { cause: e });
  }
  if (e instanceof sdk.APIError) {
    const { status, headers } = e as Error & { status?: unknown; headers?: HeaderBag };
    if (typeof status === "number") return statusError(provider, status, headers, e.message, e);
  }
  return transportError(provider, e, signal);
}
