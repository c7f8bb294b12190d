/**
 * The "with preference" upper bound (paper Table 1, "GPT-4o w/ Preference"): the model is told the
 * user's ground-truth preference on the dimension instead of inferring it from the feedback
 * history. Templates take it as `{{preference}}`; only runs started with `oracle` fill it, and their
 * rows are labelled as such in every report.
 */
import type { UserPreference } from "../data/types.js";
import type { Template } from "../templates/template.js";

/** What `{{preference}}` holds: the stated preference and its description. */
export function preferenceText(p: Pick<UserPreference, "preference" | "description">): string {
  return `${p.preference}: ${p.description}`;
}

export const ORACLE_LABEL = "w/ preference";

/** Refuses a template that would leak the preference into a non-oracle run, or an oracle run that never shows it. */
export function checkOracleTemplate(t: Template, oracle: boolean): void {
  const uses = t.placeholders.some((p) => p.name === "preference");
  if (uses && !oracle) throw new Error(`${t.file} uses {{preference}} (the user's ground-truth preference): that is the "with preference" upper bound; pass --oracle`);
  if (!uses && oracle) throw new Error(`--oracle needs a template with {{preference}}; ${t.file} has none`);
}
