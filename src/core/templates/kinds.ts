/**
 * Template kinds and their placeholders (the paper's, Appendix B). Shared by the renderer, the
 * evaluations and the template language server.
 */

import { verdictFormatOf } from "../eval/parse.js";

export const TEMPLATE_KINDS = ["reward-model", "generation", "history", "judge"] as const;
export type TemplateKind = (typeof TEMPLATE_KINDS)[number];

export interface PlaceholderSpec {
  required: boolean;
  description: string;
  example: string;
}

export interface KindSpec {
  description: string;
  placeholders: Record<string, PlaceholderSpec>;
  /** Text the template must ask for, so the model's output can be parsed. */
  mustMention?: { pattern: { test(body: string): boolean }; message: string };
  /** At least one of these placeholders must be used (what the model learns the user from). */
  needsOneOf?: string[];
}

const PREFERENCE: PlaceholderSpec = {
  required: false,
  description:
    "The user's stated preference on the dimension (`preference: description`), for the \"with preference\" upper bound (`--oracle`): the model is told the ground truth instead of inferring it. Only oracle runs fill it.",
  example: "engaging narrative: The user enjoys explanations told as a small story, with a scene and momentum.",
};

export const KINDS: Record<TemplateKind, KindSpec> = {
  "reward-model": {
    description: "In-context personalized reward model: pick the response the user prefers, given their feedback history.",
    placeholders: {
      feedback_history: { required: false, description: "The user's feedback history: one history-template block per pair, oldest first.", example: "Example 1:\n## Instruction\n..." },
      preference: PREFERENCE,
      instruction: { required: true, description: "The new instruction to evaluate.", example: "Explain how vaccines work." },
      response_a: { required: true, description: "The candidate shown as Response A.", example: "Vaccines train your immune system..." },
      response_b: { required: true, description: "The candidate shown as Response B.", example: "In short: they teach the body..." },
    },
    // The same rule the evaluation uses to find the verdict prefix (eval/parse.ts verdictFormatOf).
    mustMention: { pattern: { test: (body) => verdictFormatOf(body) !== undefined }, message: 'a reward-model template must name its verdict format, e.g. "[[A]]" / "[[B]]"' },
    needsOneOf: ["feedback_history", "preference"],
  },
  generation: {
    description: "In-context personalized generation: respond to the instruction the way the user prefers.",
    placeholders: {
      feedback_history: { required: false, description: "The user's feedback history (left out for the without-history ablation).", example: "Example 1:\n## Instruction\n..." },
      preference: PREFERENCE,
      instruction: { required: true, description: "The new instruction to respond to.", example: "Plan a three-day trip to Kyoto." },
    },
  },
  history: {
    description: "One example of a feedback history (a preference pair).",
    placeholders: {
      example_id: { required: true, description: "1-based number of the example in the history.", example: "3" },
      instruction: { required: true, description: "The pair's instruction.", example: "Summarise this article." },
      preferred_response: { required: true, description: "The response the user liked (chosen).", example: "Short summary: ..." },
      rejected_response: { required: true, description: "The response the user did not like (rejected).", example: "This long article discusses..." },
    },
  },
  judge: {
    description: "Rubric judge (MultiFacet absolute grading): score a response 1-5 against a preference rubric.",
    placeholders: {
      instruction: { required: true, description: "The instruction the response answers.", example: "Explain recursion." },
      response: { required: true, description: "The response to grade.", example: "Recursion is when a function calls itself..." },
      reference_answer: { required: true, description: "The golden response for this preference (worth a 5).", example: "Think of Russian dolls..." },
      rubric: { required: true, description: "The rubric: criteria and descriptions of scores 1 to 5.", example: "Does the response...?\nScore 1: ...\nScore 5: ..." },
    },
    mustMention: { pattern: /\[RESULT\]/, message: 'a judge template must ask for the score after "[RESULT]"' },
  },
};

export function isTemplateKind(k: string): k is TemplateKind {
  return (TEMPLATE_KINDS as readonly string[]).includes(k);
}
