/**
 * The fine-tuning job store: one JSON record per job in `<workspace>/.preflab/finetune/jobs/<id>.json`
 * (written atomically), and for open-weight jobs a folder `<id>/` beside it with the generated
 * training script, configs and launch files. `status`, `logs` and `cancel` work from the record
 * alone, later, from the CLI or the editor. Records hold no keys.
 */
import { childPath } from "../util/safe-path.js";
import { randomBytes } from "node:crypto";
import { readdir, readFile } from "node:fs/promises";
import * as path from "node:path";
import { writeJsonFileAtomic } from "./fsutil.js";

export const JOBS_DIR = path.join(".preflab", "finetune", "jobs");

export type JobBackend = "openai" | "skypilot" | "slurm";
export type JobMethod = "sft" | "dpo" | "rm";
/** Normalised status across backends. */
export type JobStatus = "submitted" | "queued" | "running" | "succeeded" | "failed" | "cancelled" | "unknown";

export const TERMINAL_STATUSES: ReadonlySet<JobStatus> = new Set(["succeeded", "failed", "cancelled"]);
export const isActive = (s: JobStatus): boolean => !TERMINAL_STATUSES.has(s);

export interface Hyperparameters {
  epochs?: number;
  /** OpenAI: batch_size; open-weight: the effective batch size (per device x devices x accumulation). */
  batchSize?: number;
  learningRateMultiplier?: number;
  /** Open-weight learning rate (the paper: 5e-6). */
  learningRate?: number;
  beta?: number;
}

export interface JobRecord {
  version: 1;
  id: string;
  name: string;
  backend: JobBackend;
  method: JobMethod;
  baseModel: string;
  status: JobStatus;
  /** The backend's own status word (OpenAI `validating_files`, SkyPilot `SETTING_UP`, Slurm `PENDING`...). */
  remoteStatus?: string;
  /** The backend's job id (OpenAI `ftjob-...`, SkyPilot job id on the cluster, Slurm job id). */
  remoteId?: string;
  createdAt: string;
  updatedAt: string;
  finishedAt?: string;
  trainFile: string;
  validationFile?: string;
  hyperparameters: Hyperparameters;
  error?: string;
  /** Where the trained model is: an OpenAI model id, or a location on the cluster / bucket. */
  artifact?: string;
  /** Name of the model registered for it in .preflab/models.json. */
  registeredModel?: string;
  /** Open-weight: the URL the result will be served at (an openai-compatible server); registered on success. */
  serveBaseUrl?: string;
  /** Open-weight: the model name the server will expose (default: the job name). */
  servedModelName?: string;
  openai?: { baseUrl?: string; trainingFileId?: string; validationFileId?: string; fineTunedModel?: string; suffix?: string };
  skypilot?: { cluster: string; yaml: string; jobDir: string; outputDir: string };
  slurm?: { host: string; remoteDir: string; script: string; jobDir: string };
}

export function jobsDir(root: string): string {
  return path.join(root, JOBS_DIR);
}

export function jobFile(root: string, id: string): string {
  return childPath(jobsDir(root), `${id}.json`, "job id");
}

/** Folder for a job's generated files. */
export function jobFilesDir(root: string, id: string): string {
  return childPath(jobsDir(root), id, "job id");
}

export function newJobId(now = new Date()): string {
  const t = now.toISOString().replace(/[-:]/g, "").replace(/\.\d+Z$/, "").replace("T", "-");
  return `ft-${t}-${randomBytes(3).toString("hex")}`;
}

const ID_RE = /^ft-\d{8}-\d{6}-[0-9a-f]{6}$/;

export async function saveJob(root: string, job: JobRecord): Promise<JobRecord> {
  if (!ID_RE.test(job.id)) throw new Error(`bad job id "${job.id}"`);
  job.updatedAt = new Date().toISOString();
  await writeJsonFileAtomic(jobFile(root, job.id), job);
  return job;
}

export async function listJobs(root: string): Promise<JobRecord[]> {
  let names: string[];
  try {
    names = await readdir(jobsDir(root));
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === "ENOENT") return [];
    throw e;
  }
  const jobs: JobRecord[] = [];
  for (const n of names) {
    if (!n.endsWith(".json") || !ID_RE.test(n.slice(0, -5))) continue;
    try {
      jobs.push(JSON.parse(await readFile(path.join(jobsDir(root), n), "utf8")) as JobRecord);
    } catch {
      // a record being replaced right now, or damaged: skipped in listings, loadJob reports it
    }
  }
  return jobs.sort((a, b) => (a.createdAt < b.createdAt ? 1 : a.createdAt > b.createdAt ? -1 : 0));
}

/**
 * A job by id, unique id prefix, remote id (e.g. `ftjob-...`) or name. Throws when nothing or more
 * than one job matches.
 */
export async function loadJob(root: string, ref: string): Promise<JobRecord> {
  if (ID_RE.test(ref)) {
    try {
      return JSON.parse(await readFile(jobFile(root, ref), "utf8")) as JobRecord;
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== "ENOENT") throw new Error(`${jobFile(root, ref)}: ${(e as Error).message}`);
    }
  }
  const jobs = await listJobs(root);
  for (const match of [(j: JobRecord) => j.id === ref, (j: JobRecord) => j.remoteId === ref, (j: JobRecord) => j.name === ref, (j: JobRecord) => j.id.startsWith(ref)]) {
    const found = jobs.filter(match);
    if (found.length === 1) return found[0]!;
    if (found.length > 1) throw new Error(`"${ref}" matches ${found.length} jobs (${found.map((j) => j.id).join(", ")}); give the full id`);
  }
  throw new Error(`no fine-tuning job "${ref}" in ${jobsDir(root)}`);
}
