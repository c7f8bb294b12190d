/**
 * Request ids for provider batch APIs. Anthropic's `custom_id` must match
 * `^[a-zA-Z0-9_-]{1,64}$`; Preflab item ids contain dots (and may be longer), so every item id is
 * mapped: allowed characters kept, others replaced by `_`, cut to 48 characters, and a hash of the
 * full id appended so two ids never map to one custom id. The same mapping serves OpenAI (whose
 * custom ids are free-form) so a run folder reads the same for both. The mapping is kept in the
 * run folder (batch.json), so results always go back to the right item.
 */
import { createHash } from "node:crypto";

export const CUSTOM_ID_PATTERN = /^[a-zA-Z0-9_-]{1,64}$/;

export function customIdFor(itemId: string): string {
  const base = itemId.replace(/[^a-zA-Z0-9_-]/g, "_").slice(0, 48);
  const hash = createHash("sha256").update(itemId).digest("base64url").replace(/[^a-zA-Z0-9]/g, "").slice(0, 12);
  return `${base}-${hash}`;
}
