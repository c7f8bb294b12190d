/**
 * When a preference pair tests a preference: its two sides must state different preferences on
 * the dimension in question. Texts are compared after trimming, folding white space and case, the
 * same normalisation the history retrieval uses. A pair whose sides state the same preference
 * there (e.g. two members that are both "concise") cannot tell a user with that preference apart
 * from anyone else, so counting it measures nothing.
 */
import type { PreferenceEntry } from "./schema.js";

/** Trimmed, white space folded, lower case. */
export const normText = (s: string): string => s.trim().replace(/\s+/g, " ").toLowerCase();

/** Whether the chosen and rejected sides state different preferences (normalised `preference` text). */
export function contrasts(chosen: Pick<PreferenceEntry, "preference">, rejected: Pick<PreferenceEntry, "preference">): boolean {
  return normText(chosen.preference) !== normText(rejected.preference);
}
