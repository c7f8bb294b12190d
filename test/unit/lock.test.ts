/**
 * The lock file (src/core/util/lock.ts) used for run folders: exclusive across processes and
 * within one, stale locks of dead owners taken over (one winner), release only of one's own lock.
 */
import assert from "node:assert/strict";
import { spawn, type ChildProcess } from "node:child_process";
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { createInterface } from "node:readline";
import { after, before, test } from "node:test";
import { LockedError, lockState, takeLock } from "../../src/core/util/lock.js";

const CHILD = path.join(__dirname, "../fixtures/lock-child.ts");
let dir: string;
let n = 0;
const lockFile = () => path.join(dir, `run-${++n}.lock`);

before(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), "preflab-lock-"));
});
after(async () => {
  await rm(dir, { recursive: true, force: true });
});

function child(file: string, hold: number | "stdin"): { proc: ChildProcess; first: Promise<string>; exited: Promise<number | null> } {
  const proc = spawn(process.execPath, ["--import", "tsx", CHILD, file, String(hold)], { stdio: ["pipe", "pipe", "inherit"] });
  const rl = createInterface({ input: proc.stdout });
  const first = new Promise<string>((resolve) => rl.once("line", resolve));
  const exited = new Promise<number | null>((resolve) => proc.once("exit", (code) => resolve(code)));
  return { proc, first, exited };
}

test("same process: a second take is refused (not taken for stale), and succeeds after release", async () => {
  const file = lockFile();
  const a = await takeLock(file);
  await assert.rejects(takeLock(file), (e: unknown) => e instanceof LockedError && /in this process/.test(e.message));
  // Two takes started in the same tick: exactly one wins.
  await a.release();
  const both = await Promise.allSettled([takeLock(file), takeLock(file)]);
  assert.equal(both.filter((r) => r.status === "fulfilled").length, 1);
  const won = both.find((r): r is PromiseFulfilledResult<Awaited<ReturnType<typeof takeLock>>> => r.status === "fulfilled")!;
  assert.equal((await lockState(file)).state, "held");
  await won.value.release();
  assert.equal((await lockState(file)).state, "free");
  const owner = (await takeLock(file)).owner;
  assert.equal(owner.pid, process.pid);
  assert.equal(owner.host, os.hostname());
  assert.match(owner.token, /^[0-9a-f]{24}$/);
  assert.ok(owner.processStart <= Date.now());
});

test("release removes only one's own lock", async () => {
  const file = lockFile();
  const a = await takeLock(file);
  // Someone else's lock now sits there (e.g. after a takeover): releasing must not delete it.
  const other = JSON.stringify({ pid: process.ppid, host: os.hostname(), processStart: 0, token: "someone-else", takenAt: "" });
  await writeFile(file, other);
  await a.release();
  assert.equal(await readFile(file, "utf8"), other);
});

test("a lock naming this process that it does not hold is stale and taken over", async () => {
  const file = lockFile();
  await writeFile(file, JSON.stringify({ pid: process.pid, host: os.hostname(), token: "left-over" }));
  assert.equal((await lockState(file)).state, "stale");
  const l = await takeLock(file);
  assert.equal(JSON.parse(await readFile(file, "utf8")).token, l.owner.token);
  await l.release();
});

test("two processes: the second is refused while the first holds the lock, and takes it after release", async () => {
  const file = lockFile();
  const holder = child(file, "stdin");
  assert.equal(await holder.first, "taken");
  await assert.rejects(takeLock(file), (e: unknown) => e instanceof LockedError && e.owner?.pid === holder.proc.pid);
  const other = child(file, 0);
  assert.match(await other.first, /^refused .*held by process/);
  holder.proc.stdin!.end(); // the holder releases and exits
  await holder.exited;
  assert.equal((await lockState(file)).state, "free", "released at exit");
  const l = await takeLock(file);
  await l.release();
});

test("holder killed with SIGKILL: its stale lock is taken over, by exactly one of several contenders", async () => {
  const file = lockFile();
  const holder = child(file, -1);
  assert.equal(await holder.first, "taken");
  assert.equal((await lockState(file)).state, "held");
  holder.proc.kill("SIGKILL");
  await holder.exited;
  assert.equal((await lockState(file)).state, "stale");
  const contenders = [child(file, "stdin"), child(file, "stdin"), child(file, "stdin")];
  const answers = await Promise.all(contenders.map((c) => c.first));
  assert.equal(answers.filter((a) => a === "taken").length, 1, answers.join(" | "));
  for (const c of contenders) c.proc.stdin!.end();
  await Promise.all(contenders.map((c) => c.exited));
  assert.equal((await lockState(file)).state, "free");
});
