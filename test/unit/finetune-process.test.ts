/**
 * Child processes of the fine-tuning launchers (src/core/finetune/process.ts): each in its own
 * process group, the whole group ended on cancel (SIGTERM, then SIGKILL), "done" only after exit,
 * output kept as a bounded tail plus a log file, and no abort listener left behind by a command or
 * a poll (a long `finetune status --watch` / `logs --follow` never warns about listeners).
 */
import assert from "node:assert/strict";
import { getEventListeners } from "node:events";
import { readFileSync, statSync } from "node:fs";
import * as path from "node:path";
import { test } from "node:test";
import { runChecked, runCommand, CommandCancelledError } from "../../src/core/finetune/process.js";
import { abortableSleep } from "../../src/core/util/sleep.js";
import { tempDir } from "../helpers/tmp.js";

const dir = tempDir("preflab-process-");

/** Alive and not a zombie. */
function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch {
    return false;
  }
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    return stat.slice(stat.lastIndexOf(")") + 2, stat.lastIndexOf(")") + 3) !== "Z";
  } catch {
    return false;
  }
}

async function until(cond: () => boolean, ms = 5000): Promise<void> {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error("timed out waiting");
    await new Promise((r) => setTimeout(r, 10));
  }
}

test("cancel ends the whole process group and reports done only after the command exited", async () => {
  const ac = new AbortController();
  let out = "";
  // The command starts a grandchild (as ssh / sky do) and waits for it.
  const p = runCommand("sh", ["-c", "sleep 30 & echo $!; wait"], { signal: ac.signal, onStdout: (t) => (out += t) });
  await until(() => /\d+\n/.test(out));
  const grandchild = Number(out.trim());
  assert.ok(alive(grandchild));
  ac.abort();
  const r = await p;
  assert.equal(r.cancelled, true);
  assert.ok(r.code !== 0);
  await until(() => !alive(grandchild), 2000); // SIGTERM reached the grandchild too (its parent reaps it)
  assert.equal(getEventListeners(ac.signal, "abort").length, 0, "the abort listener is removed");
  await assert.rejects(runChecked("sh", ["-c", "sleep 30"], { signal: AbortSignal.abort() }), CommandCancelledError);
});

test("a group that ignores SIGTERM gets SIGKILL after the grace period", async () => {
  const ac = new AbortController();
  let out = "";
  const p = runCommand("sh", ["-c", `trap '' TERM; sleep 30 & echo $!; wait; wait`], { signal: ac.signal, killGraceMs: 300, onStdout: (t) => (out += t) });
  await until(() => /\d+\n/.test(out));
  const grandchild = Number(out.trim());
  const t0 = Date.now();
  ac.abort();
  const r = await p;
  assert.ok(Date.now() - t0 >= 250, "not before the grace period");
  assert.equal(r.signal, "SIGKILL");
  await until(() => !alive(grandchild), 2000);
});

test("output: a bounded tail in memory, every byte in the log file", async () => {
  const log = path.join(dir, "launch.log");
  const r = await runCommand("sh", ["-c", "i=0; while [ $i -lt 2000 ]; do echo line-$i-0123456789012345678901234567890123456789; i=$((i+1)); done; echo to-stderr >&2"], { maxBuffer: 1000, logFile: log });
  assert.equal(r.code, 0);
  assert.equal(r.truncated, true);
  assert.ok(r.stdout.length <= 1000);
  assert.ok(r.stdout.endsWith("line-1999-0123456789012345678901234567890123456789\n"), "the tail is the end of the output");
  assert.equal(r.stderr, "to-stderr\n");
  const text = readFileSync(log, "utf8");
  assert.ok(text.startsWith("line-0-"));
  assert.ok(text.includes("to-stderr\n"));
  assert.ok(statSync(log).size > 100_000);
});

test("20 commands and 20 polls on one signal leave no listener and raise no MaxListeners warning", async () => {
  const warnings: Error[] = [];
  const onWarning = (w: Error) => warnings.push(w);
  process.on("warning", onWarning);
  try {
    const ac = new AbortController();
    for (let i = 0; i < 20; i++) {
      const r = await runCommand("sh", ["-c", "echo ok"], { signal: ac.signal });
      assert.equal(r.stdout, "ok\n");
      assert.equal(await abortableSleep(1, ac.signal), true);
    }
    assert.equal(getEventListeners(ac.signal, "abort").length, 0);
    const stopped = abortableSleep(60_000, ac.signal);
    ac.abort();
    assert.equal(await stopped, false);
    await new Promise((r) => setImmediate(r));
    assert.deepEqual(warnings.filter((w) => w.name === "MaxListenersExceededWarning"), []);
  } finally {
    process.off("warning", onWarning);
  }
});
