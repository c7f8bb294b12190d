/**
 * OpenAI fine-tuning through the official `openai` SDK (files + fine_tuning.jobs):
 * upload the training (and validation) JSONL with purpose `fine-tune`, create the job with
 * `method: {type: "supervised" | "dpo", supervised|dpo: {hyperparameters}}`, poll its status and
 * events, cancel it. When it succeeds, the fine-tuned model id is registered in
 * .preflab/models.json as an `openai` model evaluations can use.
 * Hyperparameters left unset are left to the API ("auto"). The key is passed in, never stored.
 */
import { createReadStream } from "node:fs";
import OpenAI from "openai";
import type { FineTuningJob, FineTuningJobEvent, JobCreateParams } from "openai/resources/fine-tuning/jobs/jobs";
import { publicUrl } from "../eval/runlog.js";
import type { Hyperparameters, JobRecord, JobStatus } from "./jobs.js";

export interface OpenAIConnection {
  apiKey: string;
  baseUrl?: string;
}

export function openaiClient(c: OpenAIConnection): OpenAI {
  if (!c.apiKey) throw new Error("OpenAI fine-tuning needs an API key (set OPENAI_API_KEY)");
  return new OpenAI({ apiKey: c.apiKey, baseURL: c.baseUrl ?? null, maxRetries: 2, timeout: 5 * 60_000, organization: null, project: null });
}

export function mapOpenAIStatus(s: FineTuningJob["status"] | string): JobStatus {
  switch (s) {
    case "validating_files":
    case "queued":
      return "queued";
    case "running":
      return "running";
    case "succeeded":
      return "succeeded";
    case "failed":
      return "failed";
    case "cancelled":
      return "cancelled";
    default:
      return "unknown";
  }
}

/** The `method` object of a job-create request. */
export function openaiMethod(method: "sft" | "dpo", h: Hyperparameters): NonNullable<JobCreateParams["method"]> {
  const hp: Record<string, number> = {};
  if (h.epochs !== undefined) hp.n_epochs = h.epochs;
  if (h.batchSize !== undefined) hp.batch_size = h.batchSize;
  if (h.learningRateMultiplier !== undefined) hp.learning_rate_multiplier = h.learningRateMultiplier;
  if (method === "dpo") {
    if (h.beta !== undefined) hp.beta = h.beta;
    return { type: "dpo", dpo: { hyperparameters: hp } };
  }
  if (h.beta !== undefined) throw new Error("beta is a DPO hyperparameter; supervised jobs take none");
  return { type: "supervised", supervised: { hyperparameters: hp } };
}

export interface OpenAICreateOptions {
  method: "sft" | "dpo";
  model: string;
  trainFile: string;
  validationFile?: string;
  hyperparameters: Hyperparameters;
  suffix?: string;
  seed?: number;
}

/** Uploads the files and creates the job; fills the record's openai / remote fields. */
export async function createOpenAIJob(job: JobRecord, o: OpenAICreateOptions, conn: OpenAIConnection): Promise<FineTuningJob> {
  const client = openaiClient(conn);
  const upload = async (file: string) => (await client.files.create({ file: createReadStream(file), purpose: "fine-tune" })).id;
  const trainingFileId = await upload(o.trainFile);
  const validationFileId = o.validationFile ? await upload(o.validationFile) : undefined;
  job.openai = { ...(conn.baseUrl ? { baseUrl: publicUrl(conn.baseUrl) } : {}), trainingFileId, ...(validationFileId ? { validationFileId } : {}), ...(o.suffix ? { suffix: o.suffix } : {}) };
  const params: JobCreateParams = {
    model: o.model,
    training_file: trainingFileId,
    method: openaiMethod(o.method, o.hyperparameters),
    metadata: { preflab_job: job.id },
  };
  if (validationFileId) params.validation_file = validationFileId;
  if (o.suffix) params.suffix = o.suffix;
  if (o.seed !== undefined) params.seed = o.seed;
  const created = await client.fineTuning.jobs.create(params);
  applyOpenAIJob(job, created);
  return created;
}

/** Copies the API's view of the job onto the record. */
export function applyOpenAIJob(job: JobRecord, j: FineTuningJob): void {
  job.remoteId = j.id;
  job.remoteStatus = j.status;
  job.status = mapOpenAIStatus(j.status);
  if (j.fine_tuned_model) {
    job.artifact = j.fine_tuned_model;
    job.openai = { ...job.openai, fineTunedModel: j.fine_tuned_model };
  }
  if (j.finished_at) job.finishedAt = new Date(j.finished_at * 1000).toISOString();
  if (j.error && (j.error.message || j.error.code)) job.error = `${j.error.code ?? "error"}: ${j.error.message ?? ""}${j.error.param ? ` (${j.error.param})` : ""}`;
}

export async function retrieveOpenAIJob(job: JobRecord, conn: OpenAIConnection): Promise<FineTuningJob> {
  if (!job.remoteId) throw new Error(`job ${job.id} has no OpenAI job id`);
  const j = await openaiClient(conn).fineTuning.jobs.retrieve(job.remoteId);
  applyOpenAIJob(job, j);
  return j;
}

export async function cancelOpenAIJob(job: JobRecord, conn: OpenAIConnection): Promise<FineTuningJob> {
  if (!job.remoteId) throw new Error(`job ${job.id} has no OpenAI job id`);
  const j = await openaiClient(conn).fineTuning.jobs.cancel(job.remoteId);
  applyOpenAIJob(job, j);
  return j;
}

/** All events of the job, oldest first (the API lists newest first; the SDK pages through). */
export async function listOpenAIEvents(job: JobRecord, conn: OpenAIConnection): Promise<FineTuningJobEvent[]> {
  if (!job.remoteId) throw new Error(`job ${job.id} has no OpenAI job id`);
  const events: FineTuningJobEvent[] = [];
  for await (const e of openaiClient(conn).fineTuning.jobs.listEvents(job.remoteId, { limit: 100 })) events.push(e);
  return events.reverse();
}

export function formatOpenAIEvent(e: FineTuningJobEvent): string {
  return `${new Date(e.created_at * 1000).toISOString()} ${e.level.padEnd(5)} ${e.message}`;
}
