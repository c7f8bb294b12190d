/**
 * How the Synthetic Users tree and the feedback-pair documents present users (labels, one-line
 * texts, the pair document). The users themselves come from the core reader
 * (src/core/data/users-index.ts). Pure Node, no vscode.
 */
import type { Dimension } from "../core/data/schema.js";
import { DIMENSION_ORDER } from "../protocol/webview.js";
import type { SyntheticUser, UserSummary } from "../core/data/types.js";

export type { UserSummary };

/** The four MultiFacet dimensions, in the paper's order (the protocol's list, checked against the core's by a unit test). */
export const DIMENSION_LIST: readonly Dimension[] = DIMENSION_ORDER;

export const DIMENSION_LABEL: Record<Dimension, string> = {
  style: "Style",
  background_knowledge: "Background knowledge",
  informativeness: "Informativeness",
  harmlessness: "Harmlessness",
};

/** One line for a user in the tree: "subdimension · preference". */
export function userLabel(u: Pick<UserSummary, "preference">): string {
  return `${u.preference.subdimension} · ${u.preference.preference}`;
}

/** Shortens text to one line of at most `max` characters. */
export function oneLine(text: string, max = 80): string {
  const t = text.replace(/\s+/g, " ").trim();
  return t.length > max ? `${t.slice(0, max - 1)}…` : t;
}

/**
 * The read-only document for one feedback pair: its instruction, the liked and not-liked
 * responses, and the similarity score. Markdown; the responses are quoted as they are (the
 * document is plain text in an editor, never rendered as HTML by Preflab).
 */
export function renderPairDocument(user: SyntheticUser, index: number): string {
  const e = user.history[index];
  if (!e) return `No feedback pair ${index + 1} for user ${user.id}.\n`;
  const fence = (text: string) => {
    let f = "````";
    while (text.includes(f)) f += "`";
    return `${f}text\n${text}\n${f}`;
  };
  return [
    `# Feedback pair ${index + 1} of ${user.history.length}`,
    "",
    `- User: \`${user.id}\` (${DIMENSION_LABEL[user.dimension]}: ${userLabel(user)})`,
    `- Pair: \`${e.pairId}\``,
    `- Similarity score: ${e.score.toFixed(3)} (TF-IDF cosine of the liked side's preference to the user's)`,
    `- Liked side's preference: ${e.preference.subdimension} · ${e.preference.preference} — ${e.preference.description}`,
    "",
    "## Instruction",
    "",
    fence(e.prompt),
    "",
    "## Liked response (chosen)",
    "",
    fence(e.chosen),
    "",
    "## Not-liked response (rejected)",
    "",
    fence(e.rejected),
    "",
  ].join("\n");
}
