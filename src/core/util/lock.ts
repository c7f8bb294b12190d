/**
 * A lock file for one folder (e.g. a run folder's run.lock), correct across processes and within one:
 * - Take: the owner record (pid, host, process start time, a random token) is written to a temp
 *   file and hard-linked to the lock name, which fails if a lock exists: exclusive create, and a
 *   lock file is never seen half-written.
 * - This process keeps a registry of the locks it holds: a second take in the same process is
 *   refused (never mistaken for a stale lock of a dead process).
 * - A lock is stale when its owner is gone: same host and the pid is dead, or the pid now belongs
 *   to a process started at another time (pid reuse), or it names this process but not a lock this
 *   process holds. A lock of another host is never taken over. Takeover is serialised by a short
 *   side lock (`<name>.takeover`, itself taken by exclusive create): under it the lock is read again,
 *   and only the same stale record is replaced, by one atomic rename. A lock just created by
 *   another process is therefore never deleted.
 * - Release removes the lock only if it still holds this owner's token.
 */
import { randomBytes } from "node:crypto";
import { readFileSync } from "node:fs";
import { link, readFile, rename, rm, stat, unlink, writeFile } from "node:fs/promises";
import os from "node:os";
import path from "node:path";

export interface LockOwner {
  pid: number;
  host: string;
  /** The owner process's start time (ms since the epoch). */
  processStart: number;
  token: string;
  takenAt: string;
}

export type LockState = { state: "free" } | { state: "held"; owner: LockOwner; here: boolean } | { state: "stale"; owner: Partial<LockOwner> | undefined };

/** Locks held by this process: lock file -> token. Shared by every copy of this module in the process. */
const registry: Map<string, string> = ((globalThis as Record<symbol, unknown>)[Symbol.for("preflab.locks")] ??= new Map<string, string>()) as Map<string, string>;

const PROCESS_START = Math.round(Date.now() - process.uptime() * 1000);
/** A takeover side lock older than this belongs to a process killed mid-takeover (a takeover lasts milliseconds). */
const TAKEOVER_STALE_MS = 10_000;

export class LockedError extends Error {
  constructor(
    message: string,
    readonly owner: Partial<LockOwner> | undefined,
  ) {
    super(message);
    this.name = "LockedError";
  }
}

/** Start time (ms since the epoch) of a process on this host, when the OS tells (Linux /proc). */
function processStartTime(pid: number): number | undefined {
  if (pid === process.pid) return PROCESS_START;
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    const ticks = Number(fields[19]); // field 22 of stat: start time in clock ticks after boot
    const btime = /^btime (\d+)$/m.exec(readFileSync("/proc/stat", "utf8"));
    if (!btime || !Number.isFinite(ticks)) return undefined;
    return Number(btime[1]) * 1000 + (ticks * 1000) / 100; // USER_HZ is 100 on Linux
  } catch {
    return undefined;
  }
}

function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === "EPERM";
  }
}

async function readOwner(file: string): Promise<{ raw: string; owner: Partial<LockOwner> | undefined } | undefined> {
  let raw: string;
  try {
    raw = await readFile(file, "utf8");
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === "ENOENT") return undefined;
    throw e;
  }
  try {
    const v = JSON.parse(raw) as Partial<LockOwner>;
    return { raw, owner: v && typeof v === "object" ? v : undefined };
  } catch {
    return { raw, owner: undefined };
  }
}

function judge(owner: Partial<LockOwner> | undefined): LockState {
  if (!owner || typeof owner.pid !== "number") return { state: "stale", owner };
  if (owner.host !== undefined && owner.host !== os.hostname()) return { state: "held", owner: owner as LockOwner, here: false };
  if (owner.pid === process.pid) {
    const mine = typeof owner.token === "string" && [...registry.values()].includes(owner.token);
    return mine ? { state: "held", owner: owner as LockOwner, here: true } : { state: "stale", owner };
  }
  if (!pidAlive(owner.pid)) return { state: "stale", owner };
  if (typeof owner.processStart === "number") {
    const start = processStartTime(owner.pid);
    if (start !== undefined && Math.abs(start - owner.processStart) > 2000) return { state: "stale", owner }; // the pid was reused
  }
  return { state: "held", owner: owner as LockOwner, here: false };
}

/** Who holds the lock file, without taking it. */
export async function lockState(file: string): Promise<LockState> {
  file = path.resolve(file);
  const read = await readOwner(file);
  if (!read) return { state: "free" };
  return judge(read.owner);
}

async function createExclusive(file: string, content: string): Promise<boolean> {
  const tmp = `${file}.${process.pid}.${randomBytes(4).toString("hex")}.tmp`;
  await writeFile(tmp, content);
  try {
    await link(tmp, file);
    return true;
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === "EEXIST") return false;
    throw e;
  } finally {
    await unlink(tmp).catch(() => undefined);
  }
}

/** Replaces a stale lock whose content is `staleRaw` by `content`; false if it changed meanwhile. */
async function takeOver(file: string, staleRaw: string, content: string): Promise<boolean> {
  const side = `${file}.takeover`;
  if (!(await createExclusive(side, content))) {
    const age = await stat(side).then(
      (s) => Date.now() - s.mtimeMs,
      () => 0,
    );
    if (age > TAKEOVER_STALE_MS) await rm(side, { force: true });
    return false; // someone else is taking over right now: look again
  }
  try {
    const now = await readOwner(file);
    if (!now) return createExclusive(file, content); // released meanwhile: take it normally
    if (now.raw !== staleRaw) return false; // not the stale lock we judged any more
    const tmp = `${file}.${process.pid}.${randomBytes(4).toString("hex")}.tmp`;
    await writeFile(tmp, content);
    try {
      await rename(tmp, file); // atomic replace; nobody else can create the lock while it exists
    } catch (e) {
      await rm(tmp, { force: true });
      throw e;
    }
    return true;
  } finally {
    await rm(side, { force: true });
  }
}

export interface LockHandle {
  readonly file: string;
  readonly owner: LockOwner;
  /** Removes the lock if it is still this owner's. Idempotent. */
  release(): Promise<void>;
}

/**
 * Takes the lock file `file`, or throws LockedError naming the holder. `describe(owner, here)`
 * words the refusal (default: a generic message).
 */
export async function takeLock(file: string, describe?: (owner: Partial<LockOwner> | undefined, here: boolean) => string): Promise<LockHandle> {
  file = path.resolve(file);
  if (registry.has(file)) {
    throw new LockedError(describe?.({ pid: process.pid, host: os.hostname() }, true) ?? `${file} is held by another task in this process`, { pid: process.pid });
  }
  const owner: LockOwner = { pid: process.pid, host: os.hostname(), processStart: PROCESS_START, token: randomBytes(12).toString("hex"), takenAt: new Date().toISOString() };
  const content = JSON.stringify(owner);
  registry.set(file, owner.token); // claimed before any await, so a concurrent take here is refused
  try {
    for (let tries = 0; tries < 50; tries++) {
      if (await createExclusive(file, content)) return handle(file, owner);
      const read = await readOwner(file);
      if (!read) continue; // released meanwhile
      const s = judge(read.owner);
      if (s.state === "held") {
        throw new LockedError(describe?.(s.owner, s.here) ?? `${file} is held by process ${s.owner.pid} on ${s.owner.host}`, s.owner);
      }
      if (await takeOver(file, read.raw, content)) return handle(file, owner);
      await new Promise((r) => setTimeout(r, 5 + Math.random() * 20));
    }
    throw new Error(`could not take the lock ${file}`);
  } catch (e) {
    registry.delete(file);
    throw e;
  }
}

function handle(file: string, owner: LockOwner): LockHandle {
  let released = false;
  return {
    file,
    owner,
    async release() {
      if (released) return;
      released = true;
      try {
        const now = await readOwner(file);
        if (now?.owner?.token === owner.token) await rm(file, { force: true });
      } finally {
        if (registry.get(file) === owner.token) registry.delete(file);
      }
    },
  };
}
