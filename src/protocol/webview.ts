/**
 * The typed message protocol between the extension host and Preflab's webviews:
 * `preflab.triple` (a counterfactual triple side by side with runs' outputs),
 * `preflab.dashboard` (the paper-style results tables) and `preflab.experiment` (the dashboard
 * over a whole experiment file: every cell, the tables side by side, paired tests between cells). Imported by both sides; no vscode, no DOM,
 * no runtime imports. One transport per panel: `webview.postMessage` / `acquireVsCodeApi().postMessage`.
 *
 * The shapes mirror src/core (data/types.ts, eval/*, metrics/report.ts, metrics/compare.ts) but are
 * declared here so that webview-ui never compiles src/core; src/core/views/protocol-compat.ts checks
 * at compile time that the core shapes are assignable to these. Numbers that can be NaN in the core
 * are `number | null` here: postMessage sends JSON, which turns NaN into null.
 *
 * UI state (selected dimension, scroll, expanded histories) is kept by the webview itself with
 * `getState` / `setState`; the host does not track it.
 */

// ---- Panel ids

export const TRIPLE_VIEW_TYPE = "preflab.triple";
export const DASHBOARD_VIEW_TYPE = "preflab.dashboard";
export const EXPERIMENT_VIEW_TYPE = "preflab.experiment";
export type WebviewViewType = typeof TRIPLE_VIEW_TYPE | typeof DASHBOARD_VIEW_TYPE | typeof EXPERIMENT_VIEW_TYPE;

// ---- Shared data shapes

export type Dimension = "style" | "background_knowledge" | "informativeness" | "harmlessness";
export const DIMENSION_ORDER: readonly Dimension[] = ["style", "background_knowledge", "informativeness", "harmlessness"];
export type Verdict = "A" | "B";
export type RunKind = "rm" | "generate" | "judge" | "prompts";

export interface PreferenceEntry {
  dimension: Dimension;
  subdimension: string;
  preference: string;
  description: string;
}

export interface Rubric {
  criteria: string;
  score_descriptions: { "1": string; "2": string; "3": string; "4": string; "5": string };
}

export interface UserPreference {
  subdimension: string;
  preference: string;
  description: string;
}

// ---- Triple panel: view model

export interface DatasetInfo {
  dir: string;
  manifestHash: string;
  seed: number;
  historySize: number;
  testTriples: number;
  users: number;
}

export interface TripleMemberView {
  /** 0, 1 or 2. */
  index: number;
  system: string;
  preference_set: PreferenceEntry[];
  /** The golden (reference) response for this member's preferences. Untrusted markdown. */
  response: string;
  rubrics: Rubric[];
}

export interface TripleView {
  id: string;
  prompt: string;
  members: TripleMemberView[];
}

export interface HistoryEntryView {
  pairId: string;
  prompt: string;
  chosen: string;
  rejected: string;
  preference: UserPreference;
  /** Similarity of this pair's chosen preference to the user's (TF-IDF cosine). */
  score: number;
}

export interface UserView {
  id: string;
  member: number;
  dimension: Dimension;
  preference: UserPreference;
  history: HistoryEntryView[];
}

export interface RunRef {
  /** Absolute run directory: the run's identity in messages. */
  dir: string;
  label: string;
  kind: RunKind;
  provider: string | null;
  model: string | null;
  status: string;
  /** Judge runs: the generation run judged and its model. */
  source?: { runDir: string; provider: string | null; model: string | null };
}

export interface GenerationOutput {
  itemId: string;
  /** null when the call failed or has not run yet. */
  text: string | null;
  error?: string;
}

export interface RmVerdictView {
  itemId: string;
  rejectedMember: number;
  order: "ab" | "ba";
  /** Where the user's chosen response was shown. */
  chosen: Verdict;
  verdict: Verdict | null;
  correct: boolean | null;
  status: "ok" | "unparsable" | "failed" | "missing";
  raw: string | null;
  /** P(A) in probability mode. */
  pA?: number;
  error?: string;
}

export interface JudgeScoreView {
  itemId: string;
  withHistory: boolean;
  /** Whose rubric was applied (the user's own member, or another member's in cross judging). */
  rubricMember: number;
  score: number | null;
  feedback: string | null;
  raw: string | null;
  calls: number;
  error?: string;
}

export interface UserRunOutputs {
  userId: string;
  member: number;
  dimension: Dimension;
  /** Generation / judge runs: the response generated with this user's history. */
  withHistory?: GenerationOutput;
  /** Reward-model runs: one verdict per (rejected member, order). */
  rm?: RmVerdictView[];
  /** Judge runs: the scores of this user's with-H response (own and cross rubrics) and of the without-H response. */
  judge?: JudgeScoreView[];
}

export interface RunOutputsView {
  run: RunRef;
  /** Generation / judge runs: the triple's response without history (one per triple). */
  withoutHistory?: GenerationOutput;
  /** Outputs for the users of this triple that the run covered, keyed by user id. */
  users: Record<string, UserRunOutputs>;
  /** Why the run could not be read (the panel shows it instead of outputs). */
  error?: string;
}

export interface TripleViewModel {
  dataset: DatasetInfo;
  triple: TripleView;
  /** users[dimension][member]: the synthetic user of each member on each dimension (null if none). */
  users: Partial<Record<Dimension, (UserView | null)[]>>;
  runs: RunOutputsView[];
  /** Every triple id of the dataset in order, for previous / next. */
  tripleIds: string[];
}

export interface TripleSearchHit {
  id: string;
  /** The instruction, possibly shortened. */
  prompt: string;
}

// ---- Triple panel: messages

export type TripleHostMessage =
  /** `dimension`: show this dimension (e.g. the user clicked in the tree); else the webview keeps its own. */
  | { type: "triple"; model: TripleViewModel; dimension?: Dimension }
  | { type: "loading"; tripleId: string }
  | { type: "searchResults"; query: string; hits: TripleSearchHit[]; total: number }
  | { type: "error"; message: string };

export type TripleWebviewMessage =
  | { type: "ready"; tripleId?: string }
  /** The webview resolves prev/next from `tripleIds` and always names the target. */
  | { type: "navigate"; direction: "prev" | "next" | "id"; tripleId: string }
  | { type: "search"; query: string }
  | { type: "selectDimension"; dimension: Dimension }
  | { type: "openRun"; runDir: string }
  /** Ask the host to pick run folders whose outputs to show. */
  | { type: "chooseRuns" }
  /** A link inside rendered (untrusted) text: the host decides whether to open it. */
  | { type: "openLink"; href: string }
  | InvalidHostMessage;

/** The page dropped a host message that failed its schema (webview-host-schema.ts); the host logs why. */
export interface InvalidHostMessage {
  type: "invalidHostMessage";
  reason: string;
}

export interface TripleWebviewState {
  tripleId?: string;
  dimension?: Dimension;
  scrollY?: number;
  /** Member indexes whose history is expanded. */
  openHistories?: number[];
  query?: string;
}

// ---- Dashboard: view model (mirrors src/core/metrics/report.ts and compare.ts)

export interface Interval {
  lo: number;
  hi: number;
}

export interface RunProvenance {
  dir: string;
  kind: RunKind;
  label: string;
  provider: string | null;
  model: string | null;
  params: Record<string, unknown>;
  seed: number | null;
  datasetManifestHash: string | null;
  templateHash: string | null;
  templates?: Record<string, { name: string; hash: string; file: string }>;
  status: string;
  items: number;
  source?: { runDir: string; provider: string | null; model: string | null };
  /** Protocol choices (oracle, plain template, judge parser, contrast filter...). */
  protocol?: Record<string, unknown>;
}

export interface RmDimensionReport {
  accuracy: number | null;
  ci: [number | null, number | null];
  n: number;
  consistentAccuracy: number | null;
  aRate: number | null;
  unparsable: number;
  failed: number;
  missing: number;
  meanChosenProbability?: number | null;
}

export interface RmReport {
  byDimension: Partial<Record<Dimension, RmDimensionReport>>;
  overall: RmDimensionReport;
}

export interface ScoreSummary {
  mean: number | null;
  ci: [number | null, number | null];
  n: number;
}

export interface GenerationDimensionReport {
  withHistory: ScoreSummary;
  withoutHistory: ScoreSummary;
  delta: number | null;
  meanDiff: number | null;
  diffCi: [number | null, number | null] | null;
  pValue: number | null;
  unscored: number;
}

export interface GenerationReport {
  byDimension: Partial<Record<Dimension, GenerationDimensionReport>>;
}

export interface SteerabilityDimensionReport {
  steerability: number | null;
  ci: [number | null, number | null];
  margin: number | null;
  instructions: number;
}

export interface SteerabilityReport {
  byDimension: Partial<Record<Dimension, SteerabilityDimensionReport>>;
}

export interface RunReport {
  run: RunProvenance;
  rm?: RmReport;
  generation?: GenerationReport;
  steerability?: SteerabilityReport;
}

export interface Report {
  runs: RunProvenance[];
  rm?: RmReport;
  generation?: GenerationReport;
  steerability?: SteerabilityReport;
  perRun: RunReport[];
}

export interface McNemarResult {
  b: number;
  c: number;
  n: number;
  pValue: number;
  accuracyA: number | null;
  accuracyB: number | null;
}

export interface PairedBootstrapResult {
  meanDiff: number | null;
  ci: Interval;
  pValue: number;
  n: number;
  meanA: number | null;
  meanB: number | null;
}

export type ComparisonResult =
  | { kind: "rm"; byDimension: Partial<Record<Dimension, McNemarResult>>; overall: McNemarResult }
  | { kind: "judge"; byDimension: Partial<Record<Dimension, PairedBootstrapResult>>; overall: PairedBootstrapResult };

export interface RunComparison {
  /** Run directories as in RunProvenance.dir. */
  runA: string;
  runB: string;
  result: ComparisonResult;
}

export interface DashboardModel {
  report: Report;
  comparisons?: RunComparison[];
}

// ---- Dashboard: messages

export type ExportFormat = "csv" | "md";

export type DashboardHostMessage =
  | { type: "report"; model: DashboardModel }
  | { type: "loading" }
  | { type: "comparison"; comparison: RunComparison }
  | { type: "comparisonError"; runA: string; runB: string; message: string }
  | { type: "exported"; format: ExportFormat; path: string }
  | { type: "error"; message: string };

export type DashboardWebviewMessage =
  | { type: "ready" }
  | { type: "refresh" }
  | { type: "export"; format: ExportFormat }
  | { type: "compare"; runA: string; runB: string }
  | { type: "openRun"; runDir: string }
  | InvalidHostMessage;

export interface DashboardWebviewState {
  scrollY?: number;
  compareA?: string;
  compareB?: string;
  tab?: string;
}

// ---- Experiment dashboard: view model (mirrors src/app/experiment.ts ExperimentReportModel)

export type CellKind = "rm" | "generate" | "judge" | "rs" | "export";

/** Tokens and dollars a cell's requests used (its run.json); costUsd null = price unknown. */
export interface CellUsageView {
  requests: number;
  inputTokens: number;
  cachedInputTokens: number;
  outputTokens: number;
  costUsd: number | null;
}

/** What an rs / export cell made (rs.json / export.json). */
export interface FinetuneCellView {
  kind: "rs" | "export";
  headline: string;
  counts: Record<string, number>;
  /** Output files, relative to the cell folder. */
  files: string[];
  rs?: {
    mode: string;
    keep: number;
    rule: string;
    byPart: { part: string; examples: number; scored: number; kept: number; dropped: number; threshold: number | null }[];
    meanMargin: number | null;
    meanKeptMargin: number | null;
    meanDroppedMargin: number | null;
  };
  export?: { format: string; target: string; keptFrom: string | null; droppedHistoryPairs: number; maxPromptTokens: number; tokenizer: string };
}

export interface ExperimentCellView {
  /** The cell's name (from the file: untrusted text). */
  name: string;
  kind: CellKind;
  model: string;
  judgeModel?: string;
  /** Judge: the generate cell judged; export: the rs cell whose kept examples it exports. */
  source?: string;
  /** not started, running, finished, failed, cancelled, settings changed. */
  status: string;
  /** The cell's folder (OUT/CELL). */
  dir: string;
  /** Evaluation cells: the run folder to open (rs: its run/; export: null). */
  runDir: string | null;
  usage: CellUsageView | null;
  /** "accuracy 63.5%", "kept 81 of 135 (p=0.6)"... (untrusted text). */
  headline: string | null;
  finetune?: FinetuneCellView;
}

/** A paired test between two cells of one evaluation. */
export interface CellComparisonView {
  a: string;
  b: string;
  result: ComparisonResult;
}

export interface ExperimentDashboardModel {
  name: string;
  /** The experiment file. */
  file: string;
  /** The experiment's folder. */
  out: string;
  cells: ExperimentCellView[];
  /** The paper's tables over the evaluation cells that ran (null when none has). */
  report: Report | null;
  comparisons: CellComparisonView[];
}

// ---- Experiment dashboard: messages

export type ExperimentHostMessage =
  | { type: "experiment"; model: ExperimentDashboardModel }
  | { type: "loading" }
  | { type: "error"; message: string };

export type ExperimentWebviewMessage =
  | { type: "ready" }
  | { type: "refresh" }
  /** Run (or resume) one cell, by name: the host checks it is a cell of the shown experiment. */
  | { type: "runCell"; cell: string }
  /** Open a cell's run in the triple view / results dashboard: the host checks it is a cell of the shown experiment. */
  | { type: "openCell"; cell: string }
  /** Open an output file of a cell (relative to the cell folder): the host checks it is one the model listed. */
  | { type: "openFile"; cell: string; file: string }
  | InvalidHostMessage;

export interface ExperimentWebviewState {
  /** The experiment file shown (the host reopens it after a reload). */
  file?: string;
  scrollY?: number;
}
