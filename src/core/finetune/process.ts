/**
 * Child processes for the remote launchers (`sky`, `ssh`). Every command runs as an executable
 * and an ARGUMENT ARRAY (`spawn(cmd, args, {shell: false})`): no local shell ever sees a user's job
 * name or path. The one place a shell is unavoidable is the remote side of `ssh`, which joins its
 * arguments into one string for the remote login shell; `remoteCommand` therefore quotes every
 * word (POSIX single quotes), so the remote shell turns it back into exactly those words.
 */
import { spawn } from "node:child_process";
import { createReadStream } from "node:fs";

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
  signal?: AbortSignal;
  env?: NodeJS.ProcessEnv;
  cwd?: string;
  onStdout?: (text: string) => void;
  onStderr?: (text: string) => void;
}

export interface RunResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
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

/** Runs `cmd args...` without a shell; resolves with its output whatever the exit code. */
export function runCommand(cmd: string, args: string[], opts: RunOptions = {}): Promise<RunResult> {
  return new Promise((resolve, reject) => {
    let child;
    try {
      child = spawn(cmd, args, {
        shell: false,
        cwd: opts.cwd,
        env: opts.env ?? process.env,
        stdio: [opts.stdinFile ? "pipe" : "ignore", "pipe", "pipe"],
        signal: opts.signal,
        windowsHide: true,
      });
    } catch (e) {
      reject(e);
      return;
    }
    let stdout = "";
    let stderr = "";
    child.stdout!.setEncoding("utf8");
    child.stderr!.setEncoding("utf8");
    child.stdout!.on("data", (t: string) => {
      stdout += t;
      opts.onStdout?.(t);
    });
    child.stderr!.on("data", (t: string) => {
      stderr += t;
      opts.onStderr?.(t);
    });
    if (opts.stdinFile) {
      const input = createReadStream(opts.stdinFile);
      input.on("error", (e) => {
        child.kill();
        reject(e);
      });
      child.stdin!.on("error", () => undefined); // the child may exit before reading everything
      input.pipe(child.stdin!);
    }
    child.on("error", (e: NodeJS.ErrnoException) => {
      if (e.code === "ENOENT") reject(new Error(`\`${cmd}\` was not found on PATH`));
      else if (e.name === "AbortError") resolve({ code: null, signal: "SIGTERM", stdout, stderr });
      else reject(e);
    });
    child.on("close", (code, signal) => resolve({ code, signal, stdout, stderr }));
  });
}

/** Runs a command and throws CommandError unless it exits 0. */
export async function runChecked(cmd: string, args: string[], opts: RunOptions = {}): Promise<RunResult> {
  const r = await runCommand(cmd, args, opts);
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
