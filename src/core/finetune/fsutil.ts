/** Small file helpers for the fine-tuning module: atomic writes and directory swaps. */
import { randomBytes } from "node:crypto";
import { mkdir, rename, rm, stat, writeFile } from "node:fs/promises";
import * as path from "node:path";

/** Writes text to a temp file beside `file`, then renames it over `file`. */
export async function writeFileAtomic(file: string, text: string | Buffer, mode?: number): Promise<void> {
  await mkdir(path.dirname(file), { recursive: true });
  const tmp = `${file}.${process.pid}.${randomBytes(4).toString("hex")}.tmp`;
  try {
    await writeFile(tmp, text, mode === undefined ? undefined : { mode });
    await rename(tmp, file);
  } catch (e) {
    await rm(tmp, { force: true }).catch(() => undefined);
    throw e;
  }
}

export async function writeJsonFileAtomic(file: string, value: unknown): Promise<void> {
  await writeFileAtomic(file, JSON.stringify(value, null, 2) + "\n");
}

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
