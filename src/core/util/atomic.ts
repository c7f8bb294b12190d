/**
 * The one atomic write: the data goes to a temp file beside the target (unique per process and
 * call), which is then renamed over it, so a reader sees the old file or the new one, never half of
 * one; a failure removes the temp file and leaves the target as it was. Used for run.json, eval.json,
 * items.jsonl, judged results, response-cache entries, job records, the model registry, exports.
 */
import { randomBytes } from "node:crypto";
import { mkdir, rename, rm, writeFile } from "node:fs/promises";
import * as path from "node:path";

export interface AtomicWriteOptions {
  /** File mode of the new file (e.g. 0o755 for a script). */
  mode?: number;
  /** Create the parent folder first (default true). */
  mkdir?: boolean;
}

export async function writeFileAtomic(file: string, data: string | Uint8Array, opts: AtomicWriteOptions | number = {}): Promise<void> {
  const o: AtomicWriteOptions = typeof opts === "number" ? { mode: opts } : opts;
  if (o.mkdir !== false) await mkdir(path.dirname(file), { recursive: true });
  const tmp = `${file}.${process.pid}.${randomBytes(4).toString("hex")}.tmp`;
  try {
    await writeFile(tmp, data, o.mode === undefined ? undefined : { mode: o.mode });
    await rename(tmp, file);
  } catch (e) {
    await rm(tmp, { force: true }).catch(() => undefined);
    throw e;
  }
}

/** Pretty-printed JSON (2 spaces, trailing newline), written atomically. */
export async function writeJsonAtomic(file: string, value: unknown, opts: AtomicWriteOptions = {}): Promise<void> {
  await writeFileAtomic(file, JSON.stringify(value, null, 2) + "\n", opts);
}
