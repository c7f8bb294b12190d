/**
 * The custom requests between the `.ptpl` language client (src/extension/template-language.ts) and
 * the template language server (src/server/). Imported by both sides; no vscode, no runtime imports.
 * The standard LSP features (diagnostics, completion, hover, code lenses, folding, symbols) need no
 * types here.
 */

export type TemplateKindName = "reward-model" | "generation" | "history" | "judge";
export type MessageRole = "system" | "user" | "assistant";

// ---- preflab/templates/subjects: the synthetic users a preview can render with

export const TEMPLATE_SUBJECTS_METHOD = "preflab/templates/subjects";

export interface TemplateSubjectsParams {
  datasetDir: string;
  /** At most this many users (default 500). */
  limit?: number;
}

export interface TemplateSubject {
  userId: string;
  tripleId: string;
  /** Member 0..2 of the triple whose golden response the user prefers. */
  member: number;
  dimension: string;
  /** The user's preference on its dimension (one line). */
  preference: string;
  /** The triple's instruction, cut to 120 characters. */
  instruction: string;
  historyPairs: number;
}

export interface TemplateSubjectsResult {
  datasetDir: string;
  subjects: TemplateSubject[];
  /** True when the dataset has more users than `limit`. */
  truncated: boolean;
}

// ---- preflab/templates/preview: render a template with a synthetic user

export const TEMPLATE_PREVIEW_METHOD = "preflab/templates/preview";

export interface TemplatePreviewParams {
  /** The template text (the editor's buffer, saved or not). */
  text: string;
  /** For messages only. */
  uri?: string;
  datasetDir: string;
  /** The synthetic user; default: the first user of `tripleId`, else the dataset's first user. */
  userId?: string;
  tripleId?: string;
  /**
   * reward-model: the member whose golden response is the rejected one (default: the next member
   * after the user's). judge: the member whose golden response is graded (default: the same).
   */
  otherMember?: number;
  /** reward-model: "ab" shows the chosen response as A (default), "ba" as B. */
  order?: "ab" | "ba";
  /** Input budget in tokens (default 12,800, as in the paper). */
  maxInputTokens?: number;
  /** History template file for the feedback history (default: the built-in, the paper's B.3). */
  historyTemplatePath?: string;
}

export interface PreviewMessage {
  role: MessageRole;
  content: string;
}

export interface TemplatePreviewResult {
  kind: TemplateKindName;
  templateName: string;
  /** sha256 of the template text, as a run would record it. */
  templateHash: string;
  datasetDir: string;
  userId: string;
  tripleId: string;
  dimension: string;
  preference: string;
  /** The rendered chat messages; a history template renders to one user message holding its text. */
  messages: PreviewMessage[];
  /** Estimated input tokens (one per 4 characters plus 4 per message), as the evaluations count them. */
  tokens: number;
  maxInputTokens: number;
  overBudget: boolean;
  /** Feedback-history pairs in the prompt, and the oldest ones dropped to fit the budget. */
  historyKept: number;
  historyDropped: number;
  /** What filled each placeholder, in words (e.g. "response_a: member 1's golden response (chosen)"). */
  notes: string[];
}

/** Every custom request, by method: lets each side type its sender / handler. */
export interface TemplateRequests {
  [TEMPLATE_SUBJECTS_METHOD]: { params: TemplateSubjectsParams; result: TemplateSubjectsResult };
  [TEMPLATE_PREVIEW_METHOD]: { params: TemplatePreviewParams; result: TemplatePreviewResult };
}

// ---- Client commands the server's code lenses invoke

export const PREVIEW_TEMPLATE_COMMAND = "preflab.previewTemplate";
export const RUN_TEMPLATE_SAMPLE_COMMAND = "preflab.runTemplateSample";

/** Options the client passes when it starts the server (`initializationOptions`). */
export interface TemplateServerInitOptions {
  /** N in the "Run on N samples" code lens (default 5). */
  sampleSize?: number;
}
