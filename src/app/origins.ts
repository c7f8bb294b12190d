/**
 * Where a key may go: the one policy both hosts (CLI, extension) and every feature that reads a
 * URL (run sessions, fine-tuning jobs, registered models, experiment files) call before a request.
 *
 * A stored or environment key is sent only to
 *   - the provider's official endpoint (no base URL, or one whose origin is the official one),
 *   - a base URL the user set themselves: a user/remote setting (`"scope": "machine"` or
 *     `"application"`, never one a workspace can override) or a command-line flag,
 *   - a URL read from a workspace file (job record, run.json, eval.json, .preflab/models.json,
 *     experiment file) only when the user confirmed that origin (once; remembered per origin and
 *     key, revocable). Without a way to ask (the CLI), confirmation is `--allow-origin ORIGIN`.
 * Restricted Mode is the gate's business (src/app/gate.ts): `authorizeDestination` checks the gate
 * first, so an untrusted workspace never reaches the question.
 *
 * Host-neutral: no vscode, no DOM. The host supplies an `OriginStore` (extension: globalState;
 * CLI: the `--allow-origin` flags) and, where it can ask, a `confirm` callback.
 *
 *   const policy = new KeyDestinationPolicy({ gate, store, confirm });
 *   await policy.authorize({ key: "openai", url: job.openai?.baseUrl, source: "workspace-file", file: jobPath });
 *   // throws UntrustedOriginError (message says the origin and how to allow it) or RunGate's error
 */
import type { RunGate } from "./gate.js";

/** Whose key a request would carry. `none`: a request without a key (a local keyless server). */
export type KeyName = "openai" | "anthropic" | "openai-compatible" | "none";

/** Where a URL came from. Only `workspace-file` needs a confirmed origin. */
export type UrlSource = "official" | "user-setting" | "command-line" | "workspace-file";

/** The official API origins. A workspace file naming one of these needs no confirmation. */
export const OFFICIAL_ORIGINS: Readonly<Record<Exclude<KeyName, "none" | "openai-compatible">, string>> = {
  openai: "https://api.openai.com",
  anthropic: "https://api.anthropic.com",
};

export class UntrustedOriginError extends Error {
  constructor(
    message: string,
    readonly origin: string,
    readonly key: KeyName,
  ) {
    super(message);
    this.name = "UntrustedOriginError";
  }
}

/**
 * `scheme://host[:port]` of a URL, lower-cased, default ports dropped; only http and https.
 * Throws for anything else (file:, javascript:, no scheme...).
 */
export function originOf(url: string): string {
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    throw new UntrustedOriginError(`"${url}" is not a URL`, url, "none");
  }
  if (u.protocol !== "http:" && u.protocol !== "https:") throw new UntrustedOriginError(`"${u.protocol}" URLs are not allowed as API base URLs (http or https only)`, url, "none");
  return u.origin;
}

/** Remembered origins, per key. */
export interface OriginStore {
  has(key: KeyName, origin: string): boolean;
  add(key: KeyName, origin: string): Promise<void> | void;
  remove(key: KeyName, origin: string): Promise<void> | void;
  list(): { key: KeyName; origin: string }[];
}

/** An OriginStore in memory (the CLI's `--allow-origin`, tests). An entry with key "*" allows any key. */
export class MemoryOriginStore implements OriginStore {
  private readonly entries = new Set<string>();
  constructor(initial: Iterable<{ key: KeyName | "*"; origin: string }> = []) {
    for (const e of initial) this.entries.add(`${e.key} ${originOf(e.origin)}`);
  }
  has(key: KeyName, origin: string): boolean {
    return this.entries.has(`${key} ${origin}`) || this.entries.has(`* ${origin}`);
  }
  add(key: KeyName, origin: string): void {
    this.entries.add(`${key} ${origin}`);
  }
  remove(key: KeyName, origin: string): void {
    this.entries.delete(`${key} ${origin}`);
  }
  list(): { key: KeyName; origin: string }[] {
    return [...this.entries].map((e) => {
      const [key, origin] = e.split(" ") as [KeyName, string];
      return { key, origin };
    });
  }
}

/** Serialises a store's entries (for globalState): sorted "key origin" strings. */
export function storeEntries(store: OriginStore): string[] {
  return store
    .list()
    .map((e) => `${e.key} ${e.origin}`)
    .sort();
}

export interface DestinationRequest {
  /** Whose key goes with the request ("none" when no key is sent). */
  key: KeyName;
  /** The base URL; undefined means the provider's official endpoint. */
  url: string | undefined;
  source: UrlSource;
  /** The file the URL came from (for messages), when `source` is workspace-file. */
  file?: string;
  /** What is about to happen, for the gate and the prompt ("fine-tuning status of job x"). */
  what?: string;
}

export type Decision = { allowed: true; origin?: string } | { allowed: false; origin: string; reason: string };

/**
 * The pure rule: may this request go without asking? (No gate, no prompt.) A workspace-file URL
 * needs a remembered origin unless it is the key's official origin; a keyless request to a
 * workspace-file URL needs one too when `keylessNeedsConfirmation` (the extension: no request to an
 * origin a file named before the user saw it).
 */
export function decideDestination(req: DestinationRequest, store: Pick<OriginStore, "has">, opts: { keylessNeedsConfirmation?: boolean } = {}): Decision {
  if (req.url === undefined || req.url === "") return { allowed: true };
  const origin = originOf(req.url);
  if (req.source !== "workspace-file") return { allowed: true, origin };
  if (req.key !== "none" && req.key !== "openai-compatible" && OFFICIAL_ORIGINS[req.key] === origin) return { allowed: true, origin };
  if (req.key === "none" && !opts.keylessNeedsConfirmation) return { allowed: true, origin };
  if (store.has(req.key, origin)) return { allowed: true, origin };
  const carrying = req.key === "none" ? "a request" : `your ${req.key} API key`;
  return {
    allowed: false,
    origin,
    reason: `${req.file ? `${req.file} names` : "a workspace file names"} ${origin} as the API server; ${carrying} is not sent there until you confirm that origin`,
  };
}

/** What the user is asked: may `origin` receive `key` (an API server), or may Preflab run ssh to it (`kind: "ssh"`). */
export interface ConfirmQuestion {
  key: KeyName;
  origin: string;
  file?: string;
  what?: string;
  kind?: "api" | "ssh";
}

/**
 * The confirmation key of an ssh destination named by a workspace file (a Slurm job record's
 * host): `ssh://HOST` as written, lower-cased. Refuses what ssh could read as something else
 * (empty, white space, NUL, a leading "-").
 */
export function sshDestination(host: string): string {
  if (!host || host.startsWith("-") || /[\s\0]/.test(host)) throw new UntrustedOriginError(`"${host}" is not an ssh host`, host, "none");
  return `ssh://${host.toLowerCase()}`;
}

export interface KeyDestinationPolicyOptions {
  gate: RunGate;
  store: OriginStore;
  /**
   * Asks the user whether `origin` may receive `key` (shows the full origin). Resolves true to
   * allow and remember. Absent (the CLI): refused with a hint to pass `--allow-origin`.
   */
  confirm?: (q: ConfirmQuestion) => Promise<boolean>;
  /** How to allow an origin without a prompt, for messages (CLI: "pass --allow-origin ORIGIN"). */
  allowHint?: (origin: string) => string;
  keylessNeedsConfirmation?: boolean;
}

export class KeyDestinationPolicy {
  constructor(private readonly o: KeyDestinationPolicyOptions) {}

  get store(): OriginStore {
    return this.o.store;
  }

  /** The pure decision (no gate, no prompt). */
  decide(req: DestinationRequest): Decision {
    return decideDestination(req, this.o.store, { keylessNeedsConfirmation: this.o.keylessNeedsConfirmation });
  }

  /**
   * Resolves when the request may go; throws the gate's error (Restricted Mode) or an
   * UntrustedOriginError. Asks at most once per origin and key (the answer "yes" is remembered).
   */
  async authorize(req: DestinationRequest): Promise<void> {
    const what = req.what ?? "an API request";
    this.o.gate.check("network", what);
    if (req.key !== "none") this.o.gate.check("key", what);
    const d = this.decide(req);
    if (d.allowed) return;
    if (this.o.confirm && (await this.o.confirm({ key: req.key, origin: d.origin, file: req.file, what: req.what }))) {
      await this.o.store.add(req.key, d.origin);
      return;
    }
    const hint = this.o.allowHint ? this.o.allowHint(d.origin) : "confirm the origin when asked";
    throw new UntrustedOriginError(`Preflab: ${d.reason} (${hint}).`, d.origin, req.key);
  }

  /**
   * Before running ssh to a host a workspace file named (a Slurm job record): the gate's
   * "process" check, then the host must have been confirmed once (remembered like an origin,
   * revocable the same way). `ask: false` (background polling) never prompts.
   */
  async authorizeSsh(req: { host: string; file?: string; what?: string }, ask: boolean): Promise<void> {
    const what = req.what ?? "an ssh command";
    this.o.gate.check("process", `${what} (ssh to ${req.host})`);
    const target = sshDestination(req.host);
    if (this.o.store.has("none", target)) return;
    if (ask && this.o.confirm && (await this.o.confirm({ key: "none", origin: target, file: req.file, what: req.what, kind: "ssh" }))) {
      await this.o.store.add("none", target);
      return;
    }
    const named = req.file ? `${req.file} names` : "a workspace file names";
    throw new UntrustedOriginError(`Preflab: ${named} ${target} as a Slurm host; ssh is not run there until you confirm that host (run the command again and allow it).`, target, "none");
  }

  /** Remembers an ssh host the user typed themselves (launching a Slurm job), so its polling needs no question. */
  async allowSsh(host: string): Promise<void> {
    await this.o.store.add("none", sshDestination(host));
  }
}

/** The CLI's hint: the flag that confirms an origin. */
export const cliAllowHint = (origin: string): string => `to use it, give the URL with --base-url or pass --allow-origin ${origin}`;

/** Parses repeated `--allow-origin` values into a store (any key). Throws for a value that is not an http(s) origin. */
export function cliOriginStore(values: readonly string[] | string | undefined): MemoryOriginStore {
  const list = values === undefined ? [] : typeof values === "string" ? [values] : values;
  return new MemoryOriginStore(list.map((origin) => ({ key: "*" as const, origin })));
}

/** The key a provider id sends (none for baseline / llamacpp). */
export function keyNameFor(provider: string): KeyName {
  // A served reward model (scalar-reward) takes the OpenAI-compatible server's key.
  if (provider === "scalar-reward") return "openai-compatible";
  return provider === "openai" || provider === "anthropic" || provider === "openai-compatible" ? provider : "none";
}
