/** Fine-tuning: exporters, rejection sampling, launchers, job store and model registry (no vscode). */
export * from "./examples.js";
export * from "./formats.js";
export * from "./export.js";
export * from "./rs.js";
export * from "./scalar-reward.js";
export * from "./jobs.js";
export * from "./models.js";
export * from "./launch.js";
export { shellQuote, remoteCommand } from "./process.js";
export { OPEN_WEIGHT_PRESETS, PAPER_DEFAULTS, TRAIN_SCRIPT, accelerateConfig, skypilotTask, slurmScript, trlConfig, JOB_FILES } from "./trl.js";
export { mapOpenAIStatus, openaiMethod } from "./openai-ft.js";
export { parseSkyQueue, parseSkyJobId, mapSkyStatus, mapSlurmStatus, skyLaunchArgs, sbatchWords, sshArgs, SSH_OPTIONS, type Exec } from "./remote.js";
