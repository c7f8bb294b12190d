/**
 * The extension's LogOutputChannel ("Preflab"). Every message goes through `redact`, which
 * replaces any API key the extension has handed out (see secrets.ts) with "[redacted]", so a key
 * that shows up inside a provider's error text never reaches the log.
 */
import * as vscode from "vscode";

export class Log implements vscode.Disposable {
  readonly channel: vscode.LogOutputChannel;
  private readonly secrets = new Set<string>();

  constructor(name = "Preflab") {
    this.channel = vscode.window.createOutputChannel(name, { log: true });
  }

  /** Registers a string that must never be logged. */
  addSecret(secret: string | undefined): void {
    if (secret && secret.length >= 8) this.secrets.add(secret);
  }

  redact(text: string): string {
    for (const s of this.secrets) if (text.includes(s)) text = text.split(s).join("[redacted]");
    return text;
  }

  info(message: string): void {
    this.channel.info(this.redact(message));
  }
  warn(message: string): void {
    this.channel.warn(this.redact(message));
  }
  debug(message: string): void {
    this.channel.debug(this.redact(message));
  }
  error(message: string, err?: unknown): void {
    const detail = err === undefined ? "" : `: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}`;
    this.channel.error(this.redact(message + detail));
  }

  show(): void {
    this.channel.show(true);
  }

  dispose(): void {
    this.channel.dispose();
  }
}
