/**
 * Child processes for the remote launchers (`sky`, `ssh`). Every command runs as an executable
 * and an ARGUMENT ARRAY (`spawn(cmd, args, {shell: false})`): no local shell ever sees a user's job
 * name or path. The one place a shell is unavoidable is the remote side of `ssh`, which joins its
 * arguments into one string for the remote login shell; `remoteCommand` therefore quotes every
 * word (POSIX single quotes), so the remote shell turns it back into exactly those words.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { createReadStream, createWriteStream } from "node:fs";

/** POSIX shell single-quoting: the word comes back unchanged from `sh`, whatever it holds. */
export function shellQuote(word: string): string {
  if (word.includes("\0")) throw new Error("a shell word cannot contain a NUL byte");
  return `'${word.replace(/'/g, `'\\''`)}'`;
}

/** A remote command line for `ssh HOST CMD`: each word quoted. */
export function remoteCommand(words: string[]): string {
  return words.map(shellQuote).join(" ");
}

export interface RunOptions {
  /** Piped to the child's stdin (a file, streamed). */
  stdinFile?: string;
  /** Cancels the command: its whole process group gets SIGTERM, then SIGKILL after `killGraceMs`. */
  signal?: AbortSignal;
  env?: NodeJS.ProcessEnv;
  cwd?: string;
  onStdout?: (text: string) => void;
  onStderr?: (text: string) => void;
  /** Every byte of output (stdout and stderr, as they come) is appended here too. */
  logFile?: string;
  /** Characters of each stream kept in memory (the last ones; default 1,000,000). */
  maxBuffer?: number;
  /** Between SIGTERM and SIGKILL on cancel (default 5000 ms). */
  killGraceMs?: number;
}

export interface RunResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  /** The last `maxBuffer` characters of stdout (the whole output when `truncated` is false). */
  stdout: string;
  stderr: string;
  /** Output beyond `maxBuffer` was dropped from stdout / stderr (it is in the log file, if any). */
  truncated?: boolean;
  /** The command was cancelled through its signal. */
  cancelled?: boolean;
}

export class CommandError extends Error {
  constructor(
    readonly cmd: string,
    readonly args: string[],
    readonly result: RunResult,
  ) {
    const tail = (result.stderr || result.stdout).trim().split("\n").slice(-3).join(" | ");
    super(`${cmd} ${args[0] ?? ""} failed (${result.signal ? `signal ${result.signal}` : `exit ${result.code}`})${tail ? `: ${tail}` : ""}`);
    this.name = "CommandError";
  }
}

/** The last `max` characters of a growing text, without keeping the rest. */
class Tail {
  private parts: string[] = [];
  private len = 0;
  truncated = false;
  constructor(private readonly max: number) {}
  push(t: string): void {
    this.parts.push(t);
    this.len += t.length;
    if (this.len > 2 * this.max) this.compact();
  }
  private compact(): void {
    const all = this.parts.join("");
    if (all.length > this.max) {
      this.truncated = true;
      this.parts = [all.slice(all.length - this.max)];
    } else this.parts = [all];
    this.len = this.parts[0]!.length;
  }
  text(): string {
    this.compact();
    return this.parts[0] ?? "";
  }
}

/** Sends `sig` to the child's whole process group (it was started detached, as a group leader). */
function killGroup(pid: number | undefined, sig: NodeJS.Signals): void {
  if (pid === undefined) return;
  try {
    if (process.platform === "win32") process.kill(pid, sig);
    else process.kill(-pid, sig);
  } catch {
    // already gone
  }
}

/**
 * Runs `cmd args...` without a shell, in its own process group; resolves with its output whatever
 * the exit code, and only once it has exited. On cancel (the signal) the whole group (the command
 * and whatever it started, e.g. ssh's or sky's children) gets SIGTERM, then SIGKILL after the grace
 * period. Output is kept as a bounded tail in memory and, with `logFile`, whole in a file.
 */
export function runCommand(cmd: string, args: string[], opts: RunOptions = {}): Promise<RunResult> {
  return new Promise((resolve, reject) => {
    if (opts.signal?.aborted) {
      resolve({ code: null, signal: null, stdout: "", stderr: "", cancelled: true });
      return;
    }
    let child: ChildProcess;
    try {
      child = spawn(cmd, args, {
        shell: false,
        cwd: opts.cwd,
        env: opts.env ?? process.env,
        stdio: [opts.stdinFile ? "pipe" : "ignore", "pipe", "pipe"],
        detached: process.platform !== "win32", // its own process group, ended as a whole on cancel
        windowsHide: true,
      });
    } catch (e) {
      reject(e);
      return;
    }
    const max = opts.maxBuffer ?? 1_000_000;
    const out = new Tail(max);
    const err = new Tail(max);
    const log = opts.logFile ? createWriteStream(opts.logFile, { flags: "a" }) : undefined;
    log?.on("error", () => undefined); // a log that cannot be written must not break the command
    let cancelled = false;
    let killTimer: NodeJS.Timeout | undefined;
    const onAbort = () => {
      cancelled = true;
      killGroup(child.pid, "SIGTERM");
      killTimer = setTimeout(() => killGroup(child.pid, "SIGKILL"), opts.killGraceMs ?? 5000);
      killTimer.unref();
    };
    opts.signal?.addEventListener("abort", onAbort, { once: true });
    let settled = false;
    const finish = (f: () => void) => {
      if (settled) return;
      settled = true;
      opts.signal?.removeEventListener("abort", onAbort);
      if (killTimer) clearTimeout(killTimer);
      if (log) log.end(f);
      else f();
    };
    child.stdout!.setEncoding("utf8");
    child.stderr!.setEncoding("utf8");
    child.stdout!.on("data", (t: string) => {
      out.push(t);
      log?.write(t);
      opts.onStdout?.(t);
    });
    child.stderr!.on("data", (t: string) => {
      err.push(t);
      log?.write(t);
      opts.onStderr?.(t);
    });
    if (opts.stdinFile) {
      const input = createReadStream(opts.stdinFile);
      input.on("error", (e) => {
        killGroup(child.pid, "SIGTERM");
        finish(() => reject(e));
      });
      child.stdin!.on("error", () => undefined); // the child may exit before reading everything
      input.pipe(child.stdin!);
    }
    child.on("error", (e: NodeJS.ErrnoException) => {
      finish(() => reject(e.code === "ENOENT" ? new Error(`\`${cmd}\` was not found on PATH`) : e));
    });
    // "close": the process exited and its output streams ended (a grandchild still holding them is
    // in the group, so a cancel ends it too).
    child.on("close", (code, signal) => {
      const r: RunResult = { code, signal, stdout: out.text(), stderr: err.text() };
      if (out.truncated || err.truncated) r.truncated = true;
      if (cancelled) r.cancelled = true;
      finish(() => resolve(r));
    });
  });
}

/** A command ended by its cancel signal (after it exited). */
export class CommandCancelledError extends Error {
  constructor(readonly cmd: string) {
    super(`${cmd} was cancelled`);
    this.name = "CommandCancelledError";
  }
}

/** Runs a command and throws CommandError unless it exits 0 (CommandCancelledError when cancelled). */
export async function runChecked(cmd: string, args: string[], opts: RunOptions = {}): Promise<RunResult> {
  const r = await runCommand(cmd, args, opts);
  if (r.cancelled) throw new CommandCancelledError(cmd);
  if (r.code !== 0) throw new CommandError(cmd, args, r);
  return r;
}

/** Calls `onLine` for each complete line of a stream of text chunks (flush at the end). */
export function lineSplitter(onLine: (line: string) => void): { push: (text: string) => void; end: () => void } {
  let buf = "";
  return {
    push(text) {
      buf += text;
      let i: number;
      while ((i = buf.indexOf("\n")) >= 0) {
        onLine(buf.slice(0, i).replace(/\r$/, ""));
        buf = buf.slice(i + 1);
      }
    },
    end() {
      if (buf) onLine(buf);
      buf = "";
    },
  };
}
