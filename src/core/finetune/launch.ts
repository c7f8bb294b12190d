/**
 * Fine-tuning jobs, whatever the backend: launch, refresh (status), cancel, logs, and registering
 * the result as a model (.preflab/models.json). The CLI (`preflab finetune ...`) and the editor's
 * "Fine-tuning Jobs" view both go through these functions; the job record (jobs.ts) is all they need.
 */
import { readFile, stat } from "node:fs/promises";
import * as path from "node:path";
import { EXPORT_FILES, readExportReport } from "./export.js";
import { detectLineFormat } from "./formats.js";
import { writeFileAtomic, writeJsonFileAtomic } from "./fsutil.js";
import { isActive, jobFilesDir, loadJob, newJobId, saveJob, type Hyperparameters, type JobBackend, type JobMethod, type JobRecord, type JobStatus } from "./jobs.js";
import { registerModel, type RegisteredModel } from "./models.js";
import { CommandCancelledError } from "./process.js";
import { abortableSleep } from "../util/sleep.js";
import { cancelOpenAIJob, createOpenAIJob, formatOpenAIEvent, listOpenAIEvents, retrieveOpenAIJob, type OpenAIConnection } from "./openai-ft.js";
import {
  artifactLocation,
  DEFAULT_EXEC,
  mapSkyStatus,
  mapSlurmStatus,
  remoteLogs,
  skyCancel,
  skyLaunch,
  skyStatus,
  slurmCancel,
  slurmLaunch,
  slurmStatus,
  type Exec,
} from "./remote.js";
import { accelerateConfig, gpusOf, JOB_FILES, resolveModel, SKY_PATHS, skypilotTask, slurmScript, TRAIN_SCRIPT, trlConfig } from "./trl.js";

export const JOB_BACKENDS: readonly JobBackend[] = ["openai", "skypilot", "slurm"];
export const JOB_METHODS: readonly JobMethod[] = ["sft", "dpo", "rm"];

export interface LaunchOptions {
  /** Workspace root: .preflab/ lives here. */
  root: string;
  backend: JobBackend;
  /** Default: the method of the export folder given as `train`. */
  method?: JobMethod;
  /** Base model: an OpenAI model, or a Hugging Face id / preset (llama-3.1-8b, mistral-7b). */
  model: string;
  /** A training JSONL, or an export folder (its train.jsonl and export.json). */
  train: string;
  validation?: string;
  name?: string;
  hyperparameters?: Hyperparameters;
  /** OpenAI */
  apiKey?: string;
  baseUrl?: string;
  suffix?: string;
  seed?: number;
  /** Open-weight */
  perDeviceBatchSize?: number;
  maxPromptLength?: number;
  maxLength?: number;
  /** The URL the trained model will be served at (openai-compatible / vLLM); registered on success. */
  serveBaseUrl?: string;
  servedModelName?: string;
  skypilot?: { cluster?: string; accelerators?: string; infra?: string; outputBucket?: string; autodownMinutes?: number; diskSize?: number };
  slurm?: { host: string; remoteDir?: string; partition?: string; account?: string; time?: string; cpusPerTask?: number; gpus?: number; setupFile?: string };
  exec?: Exec;
  onOutput?: (text: string) => void;
  /** Cancels the launch: the launcher's process group is ended and the job recorded as cancelled. */
  signal?: AbortSignal;
}

interface ResolvedTrain {
  file: string;
  method: JobMethod;
}

async function firstLine(file: string): Promise<unknown> {
  const text = await readFile(file, "utf8");
  const line = text.split("\n").find((l) => l.trim());
  if (!line) throw new Error(`${file} is empty`);
  try {
    return JSON.parse(line);
  } catch (e) {
    throw new Error(`${file}:1: invalid JSON (${(e as Error).message})`);
  }
}

/** The training file and method, checked against the backend (OpenAI takes OpenAI lines, TRL takes TRL lines). */
export async function resolveTrain(train: string, backend: JobBackend, method?: JobMethod): Promise<ResolvedTrain> {
  let file = path.resolve(train);
  let st;
  try {
    st = await stat(file);
  } catch {
    throw new Error(`${file}: no such file or folder`);
  }
  let exported: { method: JobMethod; target: string } | undefined;
  if (st.isDirectory()) {
    const r = await readExportReport(file);
    exported = { method: r.method, target: r.target };
    file = path.join(file, EXPORT_FILES.train);
  }
  const m = method ?? exported?.method;
  if (!m) throw new Error("--method is required when --train is a file (sft, dpo or rm)");
  if (exported && exported.method !== m) throw new Error(`${train} holds ${exported.method} data, not ${m}`);
  const seen = detectLineFormat(await firstLine(file));
  if (!seen) throw new Error(`${file}:1: not a training line (OpenAI chat / preference, or TRL messages / prompt-chosen-rejected / chosen-rejected)`);
  if (seen.format !== m) throw new Error(`${file} holds ${seen.format} lines, not ${m}`);
  const wantTarget = backend === "openai" ? "openai" : "trl";
  if (seen.target !== "any" && seen.target !== wantTarget) throw new Error(`${file} holds ${seen.target} lines; the ${backend} backend needs ${wantTarget} lines (preflab export --target ${wantTarget})`);
  if (exported && exported.target !== wantTarget) throw new Error(`${train} was exported for ${exported.target}; the ${backend} backend needs --target ${wantTarget}`);
  if (backend === "openai" && m === "rm") throw new Error("OpenAI fine-tuning has no reward-model method; train the reward model with the skypilot or slurm backend");
  return { file, method: m };
}

/** A SkyPilot cluster name for a job: letters, digits and dashes. */
export function defaultCluster(jobId: string): string {
  return `preflab-${jobId.slice(-6)}`;
}

/** The launcher's whole output (sky launch, ssh / sbatch), in the job's folder. */
export const LAUNCH_LOG = "launch.log";

export async function launchJob(o: LaunchOptions): Promise<JobRecord> {
  const { file, method } = await resolveTrain(o.train, o.backend, o.method);
  const id = newJobId();
  const now = new Date().toISOString();
  const model = o.backend === "openai" ? o.model : resolveModel(o.model);
  const job: JobRecord = {
    version: 1,
    id,
    name: o.name ?? `${method}-${model.split("/").pop()}-${id.slice(-6)}`,
    backend: o.backend,
    method,
    baseModel: model,
    status: "submitted",
    createdAt: now,
    updatedAt: now,
    trainFile: file,
    hyperparameters: { ...(o.hyperparameters ?? {}) },
  };
  if (o.validation) job.validationFile = path.resolve(o.validation);
  if (o.serveBaseUrl) job.serveBaseUrl = o.serveBaseUrl;
  if (o.servedModelName) job.servedModelName = o.servedModelName;
  const exec = o.exec ?? DEFAULT_EXEC;
  try {
    if (o.backend === "openai") {
      if (method === "rm") throw new Error("OpenAI fine-tuning has no reward-model method");
      await saveJob(o.root, job);
      await createOpenAIJob(job, { method, model, trainFile: file, validationFile: job.validationFile, hyperparameters: job.hyperparameters, suffix: o.suffix, seed: o.seed }, { apiKey: o.apiKey ?? "", baseUrl: o.baseUrl });
    } else {
      await launchOpenWeight(job, o, exec);
    }
  } catch (e) {
    if (e instanceof CommandCancelledError || o.signal?.aborted) {
      job.status = "cancelled";
      job.error = "launch cancelled";
      job.finishedAt = new Date().toISOString();
    } else {
      job.status = "failed";
      job.error = `launch failed: ${(e as Error).message}`;
    }
    await saveJob(o.root, job);
    throw e;
  }
  return saveJob(o.root, job);
}

async function launchOpenWeight(job: JobRecord, o: LaunchOptions, exec: Exec): Promise<void> {
  const dir = jobFilesDir(o.root, job.id);
  const h = job.hyperparameters;
  const common = {
    jobId: job.id,
    method: job.method,
    model: job.baseModel,
    epochs: h.epochs,
    learningRate: h.learningRate,
    effectiveBatch: h.batchSize,
    perDeviceBatchSize: o.perDeviceBatchSize,
    beta: h.beta,
    maxPromptLength: o.maxPromptLength,
    maxLength: o.maxLength,
    seed: o.seed,
  };
  if (job.backend === "skypilot") {
    const sp = o.skypilot ?? {};
    const accelerators = sp.accelerators ?? "A100:4";
    const gpus = gpusOf(accelerators);
    const outputDir = sp.outputBucket ? SKY_PATHS.output : `~/preflab-output/${job.id}`;
    const config = trlConfig({ ...common, trainFile: SKY_PATHS.data, outputDir, gpus });
    job.hyperparameters = { ...h, epochs: config.epochs, learningRate: config.learning_rate, batchSize: config.effective_batch_size, ...(job.method === "dpo" ? { beta: config.beta } : {}) };
    const yamlFile = path.join(dir, JOB_FILES.sky);
    await writeFileAtomic(path.join(dir, JOB_FILES.script), TRAIN_SCRIPT, 0o755);
    await writeJsonFileAtomic(path.join(dir, JOB_FILES.config), config);
    await writeFileAtomic(path.join(dir, JOB_FILES.accelerate), accelerateConfig(gpus));
    await writeFileAtomic(yamlFile, skypilotTask({ name: job.name, accelerators, infra: sp.infra, diskSize: sp.diskSize, jobDir: dir, trainFile: job.trainFile, outputBucket: sp.outputBucket, jobId: job.id }));
    job.skypilot = { cluster: sp.cluster ?? defaultCluster(job.id), yaml: yamlFile, jobDir: dir, outputDir: sp.outputBucket ?? outputDir };
    await saveJob(o.root, job);
    const r = await skyLaunch(job, exec, { passHfToken: Boolean((exec.env ?? process.env).HF_TOKEN), autodownMinutes: sp.autodownMinutes, onOutput: o.onOutput, signal: o.signal, logFile: path.join(dir, LAUNCH_LOG) });
    if (r.remoteId) job.remoteId = r.remoteId;
    job.status = r.remoteId ? "queued" : "unknown";
  } else {
    const sl = o.slurm;
    if (!sl?.host) throw new Error("the slurm backend needs --host (an ssh destination such as user@login.cluster)");
    const gpus = sl.gpus ?? 4;
    const config = trlConfig({ ...common, trainFile: JOB_FILES.data, outputDir: "output", gpus });
    job.hyperparameters = { ...h, epochs: config.epochs, learningRate: config.learning_rate, batchSize: config.effective_batch_size, ...(job.method === "dpo" ? { beta: config.beta } : {}) };
    const setup = sl.setupFile ? await readFile(sl.setupFile, "utf8") : undefined;
    const scriptFile = path.join(dir, JOB_FILES.slurm);
    await writeFileAtomic(path.join(dir, JOB_FILES.script), TRAIN_SCRIPT, 0o755);
    await writeJsonFileAtomic(path.join(dir, JOB_FILES.config), config);
    await writeFileAtomic(path.join(dir, JOB_FILES.accelerate), accelerateConfig(gpus));
    await writeFileAtomic(scriptFile, slurmScript({ gpus, cpusPerTask: sl.cpusPerTask, time: sl.time, setup, jobId: job.id }), 0o755);
    const remoteDir = sl.remoteDir ?? `preflab-jobs/${job.id}`;
    job.slurm = { host: sl.host, remoteDir, script: scriptFile, jobDir: dir };
    await saveJob(o.root, job);
    const files: { local: string; name: string }[] = [JOB_FILES.script, JOB_FILES.config, JOB_FILES.accelerate, JOB_FILES.slurm].map((name) => ({ local: path.join(dir, name), name }));
    files.push({ local: job.trainFile, name: JOB_FILES.data });
    job.remoteId = await slurmLaunch(job, exec, { files, partition: sl.partition, account: sl.account, signal: o.signal, logFile: path.join(dir, LAUNCH_LOG) });
    job.status = "queued";
  }
  job.artifact = artifactLocation(job);
}

export interface RefreshOptions {
  apiKey?: string;
  exec?: Exec;
}

/** Asks the backend for the job's status, updates the record, and registers the model on success. */
export async function refreshJob(root: string, ref: string | JobRecord, o: RefreshOptions = {}): Promise<JobRecord> {
  const job = typeof ref === "string" ? await loadJob(root, ref) : ref;
  const exec = o.exec ?? DEFAULT_EXEC;
  if (isActive(job.status) || (job.status === "succeeded" && !job.registeredModel)) {
    if (job.backend === "openai") {
      await retrieveOpenAIJob(job, connection(job, o));
    } else if (job.remoteId) {
      const word = job.backend === "skypilot" ? await skyStatus(job, exec) : await slurmStatus(job, exec);
      if (word) {
        job.remoteStatus = word;
        const s: JobStatus = job.backend === "skypilot" ? mapSkyStatus(word) : mapSlurmStatus(word);
        if (s !== "unknown") job.status = s;
        if (!isActive(job.status) && !job.finishedAt) job.finishedAt = new Date().toISOString();
      }
    }
    if (job.status === "succeeded" && !job.registeredModel) await registerJobModel(root, job);
    await saveJob(root, job);
  }
  return job;
}

function connection(job: JobRecord, o: RefreshOptions): OpenAIConnection {
  return { apiKey: o.apiKey ?? "", baseUrl: job.openai?.baseUrl };
}

/**
 * Registers a succeeded job's model: an OpenAI job's fine-tuned model id (provider openai); an
 * open-weight job's served endpoint (provider openai-compatible, or scalar-reward for a reward
 * model) once its serve URL is known. Returns the entry, or undefined when there is nothing yet.
 */
export async function registerJobModel(root: string, job: JobRecord, served?: { baseUrl: string; model?: string; name?: string }): Promise<RegisteredModel | undefined> {
  const kind = job.method === "rm" ? "reward" : "generation";
  let entry: RegisteredModel | undefined;
  const createdAt = new Date().toISOString();
  if (job.backend === "openai") {
    const ft = job.openai?.fineTunedModel;
    if (!ft) return undefined;
    entry = { name: served?.name ?? job.name, provider: "openai", model: ft, kind, jobId: job.id, method: job.method, baseModel: job.baseModel, createdAt };
    if (job.openai?.baseUrl) entry.baseUrl = job.openai.baseUrl;
  } else {
    const baseUrl = served?.baseUrl ?? job.serveBaseUrl;
    if (!baseUrl) return undefined;
    try {
      new URL(baseUrl);
    } catch {
      throw new Error(`serve URL "${baseUrl}" is not a URL`);
    }
    if (served?.baseUrl) job.serveBaseUrl = served.baseUrl;
    const model = served?.model ?? job.servedModelName ?? job.name;
    entry = {
      name: served?.name ?? job.name,
      provider: job.method === "rm" ? "scalar-reward" : "openai-compatible",
      model,
      baseUrl,
      kind,
      jobId: job.id,
      method: job.method,
      baseModel: job.baseModel,
      createdAt,
    };
    if (job.artifact) entry.artifact = job.artifact;
  }
  await registerModel(root, entry);
  job.registeredModel = entry.name;
  return entry;
}

/** `preflab finetune register`: records where an open-weight job's result is served. */
export async function registerServedModel(root: string, ref: string, served: { baseUrl: string; model?: string; name?: string }): Promise<RegisteredModel> {
  const job = await loadJob(root, ref);
  if (job.backend === "openai") throw new Error(`job ${job.id} is an OpenAI job: its model is registered when it succeeds (preflab finetune status)`);
  const entry = await registerJobModel(root, job, served);
  await saveJob(root, job);
  return entry!;
}

export async function cancelJob(root: string, ref: string, o: RefreshOptions = {}): Promise<JobRecord> {
  const job = await loadJob(root, ref);
  if (!isActive(job.status)) throw new Error(`job ${job.id} is already ${job.status}`);
  const exec = o.exec ?? DEFAULT_EXEC;
  if (job.backend === "openai") await cancelOpenAIJob(job, connection(job, o));
  else {
    if (job.backend === "skypilot") await skyCancel(job, exec);
    else await slurmCancel(job, exec);
    job.status = "cancelled";
    job.remoteStatus = "CANCELLED";
    job.finishedAt = new Date().toISOString();
  }
  return saveJob(root, job);
}

export interface LogsOptions extends RefreshOptions {
  follow?: boolean;
  signal?: AbortSignal;
  onLine: (line: string) => void;
  /** OpenAI follow mode: how often to poll events (default 5 s). */
  pollMs?: number;
}

/** Streams a job's logs (OpenAI: its events, oldest first; following polls until the job ends). */
export async function jobLogs(root: string, ref: string, o: LogsOptions): Promise<JobRecord> {
  let job = await loadJob(root, ref);
  if (job.backend !== "openai") {
    await remoteLogs(job, o.exec ?? DEFAULT_EXEC, { follow: o.follow ?? false, signal: o.signal, onLine: o.onLine });
    return job;
  }
  const seen = new Set<string>();
  const conn = connection(job, o);
  for (;;) {
    for (const e of await listOpenAIEvents(job, conn)) {
      if (seen.has(e.id)) continue;
      seen.add(e.id);
      o.onLine(formatOpenAIEvent(e));
    }
    if (!o.follow || o.signal?.aborted) return job;
    job = await refreshJob(root, job, o);
    if (!isActive(job.status)) {
      for (const e of await listOpenAIEvents(job, conn)) if (!seen.has(e.id)) o.onLine(formatOpenAIEvent(e));
      return job;
    }
    if (!(await abortableSleep(o.pollMs ?? 5000, o.signal))) return job;
  }
}

/** A hint for serving an open-weight result with vLLM (for messages). */
export function serveHint(job: JobRecord): string | undefined {
  if (job.backend === "openai" || !job.artifact) return undefined;
  const pooling = job.method === "rm" ? " --runner pooling" : "";
  return `copy ${job.artifact} to a GPU host, then: vllm serve <that folder> --served-model-name ${job.name}${pooling}; then: preflab finetune register ${job.id} --base-url http://HOST:8000${job.method === "rm" ? "" : "/v1"}`;
}
