/**
 * Compile-time checks that the core's shapes fit the webview protocol (src/protocol/webview.ts
 * mirrors them so that webview-ui never compiles src/core). If a core type changes in a way the
 * webviews cannot read, `tsc` fails here. Types only: nothing is emitted at runtime.
 */
import type { Report as CoreReport } from "../metrics/report.js";
import type { compareRuns } from "../metrics/compare.js";
import type { HistoryEntry, SyntheticUser } from "../data/types.js";
import type { PreferenceEntry as CorePreferenceEntry, Rubric as CoreRubric } from "../data/schema.js";
import type { ComparisonResult, HistoryEntryView, PreferenceEntry, Report, Rubric, UserView } from "../../protocol/webview.js";

type Fits<T extends U, U> = T;

export type ReportFits = Fits<CoreReport, Report>;
export type ComparisonFits = Fits<Awaited<ReturnType<typeof compareRuns>>, ComparisonResult>;
export type UserFits = Fits<SyntheticUser, UserView>;
export type HistoryFits = Fits<HistoryEntry, HistoryEntryView>;
export type PreferenceFits = Fits<CorePreferenceEntry, PreferenceEntry>;
export type RubricFits = Fits<CoreRubric, Rubric>;
