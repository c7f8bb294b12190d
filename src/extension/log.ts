/**
 * The extension's LogOutputChannel ("Preflab"). Every message goes through the one Redactor
 * (src/core/util/redact.ts), which knows every key environment variable and every key the
 * extension has handed out (see secrets.ts), so a key that shows up inside a provider's error
 * text never reaches the log. Other channels (the template language's, the fine-tuning output)
 * are wrapped with `redactingChannel`, so nothing writes to an output channel unredacted.
 */
import * as vscode from "vscode";
import { Redactor } from "../core/util/redact.js";

/** Methods of an (Log)OutputChannel whose string arguments are written out. */
const WRITERS = new Set(["append", "appendLine", "replace", "trace", "debug", "info", "warn", "error"]);

/**
 * The same channel, with every string (and Error) argument of its writing methods redacted.
 * Works for OutputChannel and LogOutputChannel (a Proxy: other members pass through).
 */
export function redactingChannel<C extends vscode.OutputChannel>(channel: C, redactor: Redactor): C {
  return new Proxy(channel, {
    get(target, prop, receiver) {
      const v = Reflect.get(target, prop, receiver) as unknown;
      if (typeof prop === "string" && WRITERS.has(prop) && typeof v === "function") {
        return (...args: unknown[]) =>
          (v as (...a: unknown[]) => unknown).apply(
            target,
            args.map((a) => (typeof a === "string" ? redactor.redact(a) : a instanceof Error ? redactor.redact(a.stack ?? a.message) : a)),
          );
      }
      return typeof v === "function" ? (v as (...a: unknown[]) => unknown).bind(target) : v;
    },
  });
}

export class Log implements vscode.Disposable {
  readonly channel: vscode.LogOutputChannel;
  readonly redactor: Redactor;
  private readonly raw: vscode.LogOutputChannel;

  constructor(name = "Preflab", redactor: Redactor = Redactor.fromEnvironment(process.env)) {
    this.redactor = redactor;
    this.raw = vscode.window.createOutputChannel(name, { log: true });
    this.channel = redactingChannel(this.raw, redactor);
  }

  /** Registers a string that must never be logged. */
  addSecret(secret: string | undefined): void {
    this.redactor.add(secret);
  }

  redact(text: string): string {
    return this.redactor.redact(text);
  }

  /** A new output channel that goes through the same redactor. */
  outputChannel(name: string): vscode.OutputChannel {
    return redactingChannel(vscode.window.createOutputChannel(name), this.redactor);
  }

  info(message: string): void {
    this.channel.info(message);
  }
  warn(message: string): void {
    this.channel.warn(message);
  }
  debug(message: string): void {
    this.channel.debug(message);
  }
  error(message: string, err?: unknown): void {
    const detail = err === undefined ? "" : `: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}`;
    this.channel.error(message + detail);
  }

  show(): void {
    this.raw.show(true);
  }

  dispose(): void {
    this.raw.dispose();
  }
}
