/**
 * The one helper for names that reach the file system (job ids, run names, template names, user
 * ids): a name is one path segment that cannot leave its folder, and a folder inside the
 * workspace is refused when it is a symlink (or under one) that leads out of it.
 *
 *   const dir = childPath(runsDir, runName, "run name");     // throws UnsafePathError for "../x", "/etc", "a\0b", "CON"
 *   await assertInside(workspaceRoot, datasetDir, "dataset folder");  // realpath check (Restricted Mode)
 */
import { realpath } from "node:fs/promises";
import * as path from "node:path";

export class UnsafePathError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "UnsafePathError";
  }
}

/** Device names Windows reserves in every folder (with or without an extension). */
const WINDOWS_RESERVED = /^(con|prn|aux|nul|com[0-9¹²³]|lpt[0-9¹²³])(\..*)?$/i;

/** Why `name` is not a safe single path segment, or undefined when it is. */
export function segmentProblem(name: string): string | undefined {
  if (typeof name !== "string" || name.length === 0) return "is empty";
  if (name.length > 200) return "is longer than 200 characters";
  if (name.includes("\0")) return "contains a NUL character";
  if (/[\x00-\x1f\x7f]/.test(name)) return "contains a control character";
  if (name.includes("/") || name.includes("\\")) return "contains a path separator";
  if (name === "." || name === "..") return `is "${name}"`;
  if (/^[A-Za-z]:/.test(name)) return "starts with a drive letter";
  if (/[<>:"|?*]/.test(name)) return 'contains one of < > : " | ? *';
  if (/[. ]$/.test(name)) return "ends with a dot or a space";
  if (WINDOWS_RESERVED.test(name)) return "is a reserved device name on Windows";
  return undefined;
}

/** Throws UnsafePathError unless `name` is one safe path segment. */
export function assertSafeSegment(name: string, what = "name"): string {
  const why = segmentProblem(name);
  if (why) throw new UnsafePathError(`${what} "${printable(name)}" ${why}; it must be a single file name without ".." or separators`);
  return name;
}

/** `parent/name` for a safe `name` (see assertSafeSegment). */
export function childPath(parent: string, name: string, what = "name"): string {
  assertSafeSegment(name, what);
  return path.join(parent, name);
}

/** Lexically: is `p` (after resolving) `root` or inside it? */
export function isInside(root: string, p: string): boolean {
  const rel = path.relative(path.resolve(root), path.resolve(p));
  return rel === "" || (!rel.startsWith("..") && !path.isAbsolute(rel));
}

/**
 * Throws unless `p` resolves (following every symlink) inside `root` (also resolved). A path that
 * does not exist yet is checked through its nearest existing ancestor.
 */
export async function assertInside(root: string, p: string, what = "folder"): Promise<string> {
  const realRoot = await realpath(root).catch(() => path.resolve(root));
  let probe = path.resolve(p);
  let rest = "";
  for (;;) {
    try {
      const real = await realpath(probe);
      const full = rest ? path.join(real, rest) : real;
      if (!isInside(realRoot, full)) {
        throw new UnsafePathError(`${what} ${p} leads out of the workspace (to ${full}); a symlink out of an untrusted workspace is refused in Restricted Mode`);
      }
      return full;
    } catch (e) {
      if (e instanceof UnsafePathError) throw e;
      const parent = path.dirname(probe);
      if (parent === probe) throw e;
      rest = rest ? path.join(path.basename(probe), rest) : path.basename(probe);
      probe = parent;
    }
  }
}

function printable(s: string): string {
  return String(s).replace(/[\x00-\x1f\x7f]/g, (c) => `\\x${c.charCodeAt(0).toString(16).padStart(2, "0")}`).slice(0, 120);
}
