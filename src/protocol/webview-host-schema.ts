/**
 * Runtime schemas for host → webview messages (the types are in webview.ts): each page parses
 * every message from the host with these before it renders anything (webview-ui/lib/vscode-api.ts);
 * one that does not match is dropped, and the page tells the host (`invalidHostMessage`), which logs
 * it. The host sends data read from workspace files and model output, so a malformed or hostile
 * shape must never reach the renderers. zod/mini keeps the webview bundles small.
 *
 * Text fields are plain strings (untrusted; the renderers sanitize or set them as text); numbers
 * that are NaN in the core arrive as null (JSON); objects allow no unknown keys' effect beyond
 * what the types name (unknown keys are stripped).
 */
import * as z from "zod/mini";
import type { DashboardHostMessage, ExperimentHostMessage, TripleHostMessage } from "./webview.js";

const str = z.string();
const num = z.number();
const nnum = z.nullable(z.number());
const nstr = z.nullable(z.string());
const dimension = z.enum(["style", "background_knowledge", "informativeness", "harmlessness"]);
const verdict = z.enum(["A", "B"]);
const runKind = z.enum(["rm", "generate", "judge", "prompts"]);
const source = z.optional(z.object({ runDir: str, provider: nstr, model: nstr }));

const preferenceEntry = z.object({ dimension, subdimension: str, preference: str, description: str });
const rubric = z.object({ criteria: str, score_descriptions: z.object({ "1": str, "2": str, "3": str, "4": str, "5": str }) });
const userPreference = z.object({ subdimension: str, preference: str, description: str });
const datasetInfo = z.object({ dir: str, manifestHash: str, seed: num, historySize: num, testTriples: num, users: num });
const tripleView = z.object({
  id: str,
  prompt: str,
  members: z.array(z.object({ index: num, system: str, preference_set: z.array(preferenceEntry), response: str, rubrics: z.array(rubric) })),
});
const historyEntry = z.object({ pairId: str, prompt: str, chosen: str, rejected: str, preference: userPreference, score: num });
const userView = z.object({ id: str, member: num, dimension, preference: userPreference, history: z.array(historyEntry) });
const runRef = z.object({ dir: str, label: str, kind: runKind, provider: nstr, model: nstr, status: str, source });
const generationOutput = z.object({ itemId: str, text: nstr, error: z.optional(str) });
const rmVerdict = z.object({
  itemId: str,
  rejectedMember: num,
  order: z.enum(["ab", "ba"]),
  chosen: verdict,
  verdict: z.nullable(verdict),
  correct: z.nullable(z.boolean()),
  status: z.enum(["ok", "unparsable", "failed", "missing"]),
  raw: nstr,
  pA: z.optional(num),
  error: z.optional(str),
});
const judgeScore = z.object({ itemId: str, withHistory: z.boolean(), rubricMember: num, score: nnum, feedback: nstr, raw: nstr, calls: num, error: z.optional(str) });
const userRunOutputs = z.object({
  userId: str,
  member: num,
  dimension,
  withHistory: z.optional(generationOutput),
  rm: z.optional(z.array(rmVerdict)),
  judge: z.optional(z.array(judgeScore)),
});
const runOutputs = z.object({ run: runRef, withoutHistory: z.optional(generationOutput), users: z.record(str, userRunOutputs), error: z.optional(str) });
const tripleModel = z.object({
  dataset: datasetInfo,
  triple: tripleView,
  users: z.partialRecord(dimension, z.array(z.nullable(userView))),
  runs: z.array(runOutputs),
  tripleIds: z.array(str),
});

export const TripleHostMessageSchema = z.discriminatedUnion("type", [
  z.object({ type: z.literal("triple"), model: tripleModel, dimension: z.optional(dimension) }),
  z.object({ type: z.literal("loading"), tripleId: str }),
  z.object({ type: z.literal("searchResults"), query: str, hits: z.array(z.object({ id: str, prompt: str })), total: num }),
  z.object({ type: z.literal("error"), message: str }),
]);

// ---- Dashboard

const pair = z.tuple([nnum, nnum]);
const provenance = z.object({
  dir: str,
  kind: runKind,
  label: str,
  provider: nstr,
  model: nstr,
  params: z.record(str, z.unknown()),
  seed: nnum,
  datasetManifestHash: nstr,
  templateHash: nstr,
  templates: z.optional(z.record(str, z.object({ name: str, hash: str, file: str }))),
  status: str,
  items: num,
  source,
  protocol: z.optional(z.record(str, z.unknown())),
});
const rmDim = z.object({
  accuracy: nnum,
  ci: pair,
  n: num,
  consistentAccuracy: nnum,
  aRate: nnum,
  unparsable: num,
  failed: num,
  missing: num,
  meanChosenProbability: z.optional(nnum),
});
const rmReport = z.object({ byDimension: z.partialRecord(dimension, rmDim), overall: rmDim });
const scoreSummary = z.object({ mean: nnum, ci: pair, n: num });
const genDim = z.object({ withHistory: scoreSummary, withoutHistory: scoreSummary, delta: nnum, meanDiff: nnum, diffCi: z.nullable(pair), pValue: nnum, unscored: num });
const genReport = z.object({ byDimension: z.partialRecord(dimension, genDim) });
const steerReport = z.object({ byDimension: z.partialRecord(dimension, z.object({ steerability: nnum, ci: pair, margin: nnum, instructions: num })) });
const runReport = z.object({ run: provenance, rm: z.optional(rmReport), generation: z.optional(genReport), steerability: z.optional(steerReport) });
const report = z.object({ runs: z.array(provenance), rm: z.optional(rmReport), generation: z.optional(genReport), steerability: z.optional(steerReport), perRun: z.array(runReport) });
const mcnemar = z.object({ b: num, c: num, n: num, pValue: num, accuracyA: nnum, accuracyB: nnum });
const bootstrap = z.object({ meanDiff: nnum, ci: z.object({ lo: num, hi: num }), pValue: num, n: num, meanA: nnum, meanB: nnum });
const comparison = z.object({
  runA: str,
  runB: str,
  result: z.discriminatedUnion("kind", [
    z.object({ kind: z.literal("rm"), byDimension: z.partialRecord(dimension, mcnemar), overall: mcnemar }),
    z.object({ kind: z.literal("judge"), byDimension: z.partialRecord(dimension, bootstrap), overall: bootstrap }),
  ]),
});

export const DashboardHostMessageSchema = z.discriminatedUnion("type", [
  z.object({ type: z.literal("report"), model: z.object({ report, comparisons: z.optional(z.array(comparison)) }) }),
  z.object({ type: z.literal("loading") }),
  z.object({ type: z.literal("comparison"), comparison }),
  z.object({ type: z.literal("comparisonError"), runA: str, runB: str, message: str }),
  z.object({ type: z.literal("exported"), format: z.enum(["csv", "md"]), path: str }),
  z.object({ type: z.literal("error"), message: str }),
]);

// ---- Experiment dashboard

const cellKind = z.enum(["rm", "generate", "judge", "rs", "export"]);
const usage = z.nullable(z.object({ requests: num, inputTokens: num, cachedInputTokens: num, outputTokens: num, costUsd: nnum }));
const finetune = z.object({
  kind: z.enum(["rs", "export"]),
  headline: str,
  counts: z.record(str, num),
  files: z.array(str),
  rs: z.optional(
    z.object({
      mode: str,
      keep: num,
      rule: str,
      byPart: z.array(z.object({ part: str, examples: num, scored: num, kept: num, dropped: num, threshold: nnum })),
      meanMargin: nnum,
      meanKeptMargin: nnum,
      meanDroppedMargin: nnum,
    }),
  ),
  export: z.optional(z.object({ format: str, target: str, keptFrom: nstr, droppedHistoryPairs: num, maxPromptTokens: num, tokenizer: str })),
});
const cellView = z.object({
  name: str,
  kind: cellKind,
  model: str,
  judgeModel: z.optional(str),
  source: z.optional(str),
  status: str,
  dir: str,
  runDir: nstr,
  usage,
  headline: nstr,
  finetune: z.optional(finetune),
});
const experimentModel = z.object({
  name: str,
  file: str,
  out: str,
  cells: z.array(cellView),
  report: z.nullable(report),
  comparisons: z.array(z.object({ a: str, b: str, result: comparison.shape.result })),
});

export const ExperimentHostMessageSchema = z.discriminatedUnion("type", [
  z.object({ type: z.literal("experiment"), model: experimentModel }),
  z.object({ type: z.literal("loading") }),
  z.object({ type: z.literal("error"), message: str }),
]);

// The schemas and the protocol types must describe the same messages.
type Same<A, B> = [A] extends [B] ? ([B] extends [A] ? true : never) : never;
const _triple: Same<z.infer<typeof TripleHostMessageSchema>, TripleHostMessage> = true;
const _dashboard: Same<z.infer<typeof DashboardHostMessageSchema>, DashboardHostMessage> = true;
const _experiment: Same<z.infer<typeof ExperimentHostMessageSchema>, ExperimentHostMessage> = true;
void _triple;
void _dashboard;
void _experiment;
