/**
 * Stable ids of a built dataset: a triple's id is a hash of its instruction (so it survives
 * rebuilds and reorderings of the input files), a pair's and a user's id extend their triple's.
 */
import { createHash } from "node:crypto";
import type { Dimension } from "./schema.js";

const sha = (s: string) => createHash("sha256").update(s).digest("hex");
export const tripleId = (split: "train" | "test", prompt: string) => `${split === "train" ? "tr" : "te"}-${sha(prompt).slice(0, 16)}`;
export const pairId = (tid: string, chosen: number, rejected: number) => `${tid}.${chosen}v${rejected}`;
export const userId = (tid: string, member: number, d: Dimension) => `${tid}.${member}.${d}`;


/** The triple id and members of a pair id (`tr-….1v2`), or undefined when it is not one. */
export function parsePairId(id: string): { tripleId: string; chosen: number; rejected: number } | undefined {
  const m = /^(t[re]-[0-9a-f]{16})\.([0-2])v([0-2])$/.exec(id);
  return m ? { tripleId: m[1]!, chosen: Number(m[2]), rejected: Number(m[3]) } : undefined;
}
