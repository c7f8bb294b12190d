/**
 * Everything the host needs from src/core (and the template language client) at run time. Built
 * as its own bundle, dist/extension-core.js, and loaded by core.ts on the first command that
 * needs it; type-only imports of the core elsewhere in the host cost nothing at activation.
 */
export { buildDataset } from "../core/data/builder.js";
export { Dataset } from "../core/data/dataset.js";
export { UsersIndex } from "../core/data/users-index.js";
export { createProvider } from "../core/providers/registry.js";
export { runBatch } from "../core/eval/runner.js";
export { readRunJson, publicUrl } from "../core/eval/runlog.js";
export { runRm } from "../core/eval/rm.js";
export { runGeneration } from "../core/eval/generation.js";
export { runJudge } from "../core/eval/judge.js";
export { prepareEvalDir, readEvalJson } from "../core/eval/plan.js";
export { buildReport, formatReport, loadRunReport } from "../core/metrics/report.js";
export { compareRuns } from "../core/metrics/compare.js";
export { TripleViewLoader } from "../core/views/triple-view.js";
// The application layer: run sessions, provider validation, resume, prompt sets.
export { readPromptFile, InputError } from "../app/prompts.js";
export { runEvaluation, runnerSettings } from "../app/session.js";
export { resolveProviderConfig, ProviderConfigError } from "../app/provider.js";
export { readResumable, ResumeError } from "../app/resume.js";
export { loadExperiment, estimateExperiment, runExperiment, experimentReport, experimentReportModel, experimentStatus, ExperimentError } from "../app/experiment.js";
export { formatEstimates } from "../core/cost/estimate.js";
export { activateTemplateLanguage } from "./template-language.js";
export * as finetune from "../core/finetune/index.js";
