/**
 * Launching, watching and cancelling TRL jobs on a GPU cluster, as child processes with argument
 * arrays (process.ts): SkyPilot (`sky launch | queue | logs | cancel`) or Slurm over SSH
 * (`ssh HOST sbatch | sacct | squeue | tail | scancel`).
 *
 * - SkyPilot: `sky launch --yes --detach-run --cluster C [--env HF_TOKEN] [--idle-minutes-to-autostop N --down] -- TASK.yaml`;
 *   the task's file_mounts upload the job folder and the data. The job id is read from the launch
 *   output ("Job submitted, ID: 3"), else from `sky queue`. HF_TOKEN, when set locally, is passed
 *   by name only (`--env HF_TOKEN`: SkyPilot reads the value from the environment), never on argv.
 * - Slurm: the job folder is copied to REMOTE_DIR (relative to the remote home unless absolute)
 *   with `ssh HOST 'cat > FILE'` per file (stdin streamed), then
 *   `sbatch --parsable --job-name=NAME --chdir=REMOTE_DIR --output=slurm-%j.out [--partition=P] REMOTE_DIR/job.sbatch`.
 *   ssh hands its command to the remote login shell, so every remote word is single-quoted
 *   (remoteCommand); `--` keeps a host that starts with "-" from being read as an ssh option.
 */
import * as path from "node:path";
import type { JobRecord, JobStatus } from "./jobs.js";
import { CommandError, lineSplitter, remoteCommand, runChecked, runCommand, shellQuote, type RunOptions } from "./process.js";
import { JOB_FILES } from "./trl.js";

export const SSH_OPTIONS = ["-o", "BatchMode=yes"];

// ---------------------------------------------------------------- SkyPilot

export function skyLaunchArgs(o: { cluster: string; yaml: string; passHfToken: boolean; autodownMinutes?: number }): string[] {
  const args = ["launch", "--yes", "--detach-run", "--cluster", o.cluster];
  if (o.passHfToken) args.push("--env", "HF_TOKEN");
  if (o.autodownMinutes !== undefined) args.push("--idle-minutes-to-autostop", String(o.autodownMinutes), "--down");
  args.push("--", o.yaml);
  return args;
}

export const skyQueueArgs = (cluster: string): string[] => ["queue", "--", cluster];
export const skyLogsArgs = (cluster: string, jobId: string, follow: boolean): string[] => ["logs", ...(follow ? [] : ["--no-follow"]), "--", cluster, jobId];
export const skyCancelArgs = (cluster: string, jobId: string): string[] => ["cancel", "--yes", "--", cluster, jobId];

/** The job id that `sky launch` printed, if any. */
export function parseSkyJobId(output: string): string | undefined {
  const m = /Job submitted,?\s*ID:\s*(\d+)/i.exec(output) ?? /\bJob ID:\s*(\d+)/i.exec(output);
  return m?.[1];
}

const SKY_STATUSES = ["INIT", "PENDING", "SETTING_UP", "RUNNING", "SUCCEEDED", "FAILED", "FAILED_SETUP", "FAILED_DRIVER", "FAILED_PRECHECKS", "CANCELLED"];

export function mapSkyStatus(s: string): JobStatus {
  switch (s) {
    case "INIT":
    case "PENDING":
    case "SETTING_UP":
      return "queued";
    case "RUNNING":
      return "running";
    case "SUCCEEDED":
      return "succeeded";
    case "CANCELLED":
      return "cancelled";
    default:
      return s.startsWith("FAILED") ? "failed" : "unknown";
  }
}

/** Reads `sky queue` output: the rows as {id, name, status} (columns located by the header). */
export function parseSkyQueue(output: string): { id: string; name: string; status: string }[] {
  const lines = output.split("\n");
  const h = lines.findIndex((l) => /^\s*ID\s+NAME\b/.test(l) && /\bSTATUS\b/.test(l));
  if (h < 0) return [];
  const header = lines[h]!;
  const statusCol = header.search(/\bSTATUS\b/);
  const nameCol = header.search(/\bNAME\b/);
  const rows: { id: string; name: string; status: string }[] = [];
  for (const line of lines.slice(h + 1)) {
    const m = /^\s*(\d+)\s/.exec(line);
    if (!m) continue;
    let status = line.slice(statusCol).trim().split(/\s+/)[0] ?? "";
    if (!SKY_STATUSES.includes(status)) status = line.split(/\s+/).find((t) => SKY_STATUSES.includes(t)) ?? status;
    const name = line.slice(nameCol).trim().split(/\s+/)[0] ?? "";
    rows.push({ id: m[1]!, name, status });
  }
  return rows;
}

// ---------------------------------------------------------------- Slurm over SSH

export function sshArgs(host: string, remote: string): string[] {
  return [...SSH_OPTIONS, "--", host, remote];
}

export function sbatchWords(o: { name: string; remoteDir: string; partition?: string; account?: string }): string[] {
  const words = ["sbatch", "--parsable", `--job-name=${o.name}`, `--chdir=${o.remoteDir}`, "--output=slurm-%j.out"];
  if (o.partition) words.push(`--partition=${o.partition}`);
  if (o.account) words.push(`--account=${o.account}`);
  words.push(`${o.remoteDir}/${JOB_FILES.slurm}`);
  return words;
}

/** `sbatch --parsable` prints "JOBID" or "JOBID;CLUSTER". */
export function parseSbatchId(output: string): string | undefined {
  return /^\s*(\d+)(?:;\S+)?\s*$/m.exec(output)?.[1];
}

export function mapSlurmStatus(s: string): JobStatus {
  const w = s.trim().split(/\s+/)[0]?.replace(/\+$/, "") ?? "";
  switch (w) {
    case "PENDING":
    case "CONFIGURING":
    case "REQUEUED":
    case "REQUEUE_HOLD":
    case "REQUEUE_FED":
    case "RESIZING":
    case "SUSPENDED":
      return "queued";
    case "RUNNING":
    case "COMPLETING":
    case "STAGE_OUT":
      return "running";
    case "COMPLETED":
      return "succeeded";
    case "CANCELLED":
      return "cancelled";
    case "FAILED":
    case "TIMEOUT":
    case "OUT_OF_MEMORY":
    case "NODE_FAIL":
    case "BOOT_FAIL":
    case "DEADLINE":
    case "PREEMPTED":
      return "failed";
    default:
      return "unknown";
  }
}

export const slurmLogPath = (remoteDir: string, id: string): string => `${remoteDir}/slurm-${id}.out`;

// ---------------------------------------------------------------- flows

export interface Exec {
  /** Executable names (stand-ins in tests are found on PATH). */
  sky: string;
  ssh: string;
  env?: NodeJS.ProcessEnv;
}

export const DEFAULT_EXEC: Exec = { sky: "sky", ssh: "ssh" };

export interface SkyLaunchResult {
  remoteId?: string;
  output: string;
}

export async function skyLaunch(
  job: JobRecord,
  exec: Exec,
  o: { passHfToken: boolean; autodownMinutes?: number; onOutput?: (t: string) => void; signal?: AbortSignal; logFile?: string },
): Promise<SkyLaunchResult> {
  const sky = job.skypilot!;
  const r = await runChecked(exec.sky, skyLaunchArgs({ cluster: sky.cluster, yaml: sky.yaml, passHfToken: o.passHfToken, autodownMinutes: o.autodownMinutes }), {
    env: exec.env,
    onStdout: o.onOutput,
    onStderr: o.onOutput,
    signal: o.signal,
    logFile: o.logFile,
  });
  const output = r.stdout + r.stderr;
  let remoteId = parseSkyJobId(output);
  if (!remoteId) {
    const q = await runCommand(exec.sky, skyQueueArgs(sky.cluster), { env: exec.env });
    const rows = parseSkyQueue(q.stdout).filter((row) => row.name === job.name);
    remoteId = rows.map((row) => row.id).sort((a, b) => Number(b) - Number(a))[0];
  }
  return { remoteId, output };
}

export async function skyStatus(job: JobRecord, exec: Exec): Promise<string | undefined> {
  const sky = job.skypilot!;
  if (!job.remoteId) return undefined;
  const r = await runChecked(exec.sky, skyQueueArgs(sky.cluster), { env: exec.env });
  return parseSkyQueue(r.stdout).find((row) => row.id === job.remoteId)?.status;
}

export async function skyCancel(job: JobRecord, exec: Exec): Promise<void> {
  if (!job.remoteId) throw new Error(`job ${job.id} has no SkyPilot job id`);
  await runChecked(exec.sky, skyCancelArgs(job.skypilot!.cluster, job.remoteId), { env: exec.env });
}

export async function slurmLaunch(job: JobRecord, exec: Exec, o: { files: { local: string; name: string }[]; partition?: string; account?: string; signal?: AbortSignal; logFile?: string }): Promise<string> {
  const s = job.slurm!;
  const ssh = (remote: string, opts: RunOptions = {}) => runChecked(exec.ssh, sshArgs(s.host, remote), { env: exec.env, signal: o.signal, logFile: o.logFile, ...opts });
  await ssh(remoteCommand(["mkdir", "-p", "--", s.remoteDir]));
  for (const f of o.files) {
    await ssh(`cat > ${shellQuote(`${s.remoteDir}/${f.name}`)}`, { stdinFile: f.local });
  }
  const r = await ssh(remoteCommand(sbatchWords({ name: job.name, remoteDir: s.remoteDir, partition: o.partition, account: o.account })));
  const id = parseSbatchId(r.stdout);
  if (!id) throw new Error(`sbatch printed no job id: ${r.stdout.trim().slice(0, 200)}`);
  return id;
}

export async function slurmStatus(job: JobRecord, exec: Exec): Promise<string | undefined> {
  const s = job.slurm!;
  if (!job.remoteId) return undefined;
  const acct = await runCommand(exec.ssh, sshArgs(s.host, remoteCommand(["sacct", "-j", job.remoteId, "-X", "-n", "-P", "-o", "State"])), { env: exec.env });
  const word = acct.code === 0 ? acct.stdout.split("\n").map((l) => l.trim()).find(Boolean) : undefined;
  if (word) return word.split(/\s+/)[0];
  const q = await runCommand(exec.ssh, sshArgs(s.host, remoteCommand(["squeue", "-h", "-j", job.remoteId, "-o", "%T"])), { env: exec.env });
  if (q.code !== 0 && acct.code !== 0) throw new CommandError(exec.ssh, sshArgs(s.host, "squeue"), q);
  return q.stdout.split("\n").map((l) => l.trim()).find(Boolean);
}

export async function slurmCancel(job: JobRecord, exec: Exec): Promise<void> {
  if (!job.remoteId) throw new Error(`job ${job.id} has no Slurm job id`);
  await runChecked(exec.ssh, sshArgs(job.slurm!.host, remoteCommand(["scancel", job.remoteId])), { env: exec.env });
}

/** Streams a job's log lines (sky logs / tail over ssh). With `follow`, until the signal aborts or the command ends. */
export async function remoteLogs(job: JobRecord, exec: Exec, o: { follow: boolean; signal?: AbortSignal; onLine: (line: string) => void }): Promise<void> {
  if (!job.remoteId) throw new Error(`job ${job.id} has not been submitted (no remote job id)`);
  const split = lineSplitter(o.onLine);
  let cmd: string;
  let args: string[];
  if (job.backend === "skypilot") {
    cmd = exec.sky;
    args = skyLogsArgs(job.skypilot!.cluster, job.remoteId, o.follow);
  } else {
    const s = job.slurm!;
    cmd = exec.ssh;
    const log = slurmLogPath(s.remoteDir, job.remoteId);
    args = sshArgs(s.host, remoteCommand(o.follow ? ["tail", "-n", "+1", "-F", "--", log] : ["tail", "-n", "+1", "--", log]));
  }
  const r = await runCommand(cmd, args, { env: exec.env, signal: o.signal, onStdout: split.push, onStderr: split.push });
  split.end();
  if (r.code !== 0 && !o.signal?.aborted && r.signal === null) throw new CommandError(cmd, args, r);
}

/** Where the trained weights end up. */
export function artifactLocation(job: JobRecord): string | undefined {
  if (job.skypilot) return job.skypilot.outputDir.includes("://") ? job.skypilot.outputDir : `${job.skypilot.cluster}:${job.skypilot.outputDir}`;
  if (job.slurm) return `${job.slurm.host}:${path.posix.join(job.slurm.remoteDir, "output")}`;
  return undefined;
}
