/** Small file helpers for the fine-tuning module: existence checks and directory swaps. */
import { randomBytes } from "node:crypto";
import { mkdir, rename, rm, stat } from "node:fs/promises";
import * as path from "node:path";

// Atomic file writes are the core's one helper (src/core/util/atomic.ts).
export { writeFileAtomic, writeJsonAtomic as writeJsonFileAtomic } from "../util/atomic.js";

export async function exists(p: string): Promise<boolean> {
  try {
    await stat(p);
    return true;
  } catch {
    return false;
  }
}

/**
 * Fills a fresh temp directory beside `out` with `fill`, then swaps it into place: an existing
 * `out` (only with `force`) is moved aside and removed once the new one is in place. A failure
 * removes the temp directory and leaves `out` untouched.
 */
export async function writeDirAtomic<T>(out: string, force: boolean | undefined, fill: (dir: string) => Promise<T>): Promise<T> {
  const target = path.resolve(out);
  if ((await exists(target)) && !force) throw new Error(`${target} already exists (pass --force to replace it)`);
  await mkdir(path.dirname(target), { recursive: true });
  const tmp = `${target}.tmp-${process.pid}-${randomBytes(3).toString("hex")}`;
  await mkdir(tmp);
  try {
    const result = await fill(tmp);
    let old: string | undefined;
    if (await exists(target)) {
      old = `${target}.old-${process.pid}-${randomBytes(3).toString("hex")}`;
      await rename(target, old);
    }
    await rename(tmp, target);
    if (old) await rm(old, { recursive: true, force: true });
    return result;
  } catch (e) {
    await rm(tmp, { recursive: true, force: true });
    throw e;
  }
}
