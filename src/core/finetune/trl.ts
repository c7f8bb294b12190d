/**
 * Open-weight training files: a self-contained TRL training script (SFTTrainer, DPOTrainer,
 * RewardTrainer), its JSON config, an `accelerate` config, and the launch file for the cluster:
 * a SkyPilot task YAML (`resources`, `file_mounts`, `setup`, `run`) or a Slurm batch script that
 * runs `accelerate launch`.
 *
 * Every user-given value (model id, paths, names, hyperparameters) goes into config.json (JSON) or
 * the task YAML (serialised by the `yaml` package), never into shell text: the `run` / batch
 * script commands are fixed strings that refer to fixed file names.
 *
 * Paper defaults (Appendix A): learning rate 5e-6; effective batch 32 (SFT, 1 epoch), 64 (DPO),
 * 256 (reward model, 3 epochs); max input 12,800 tokens; 4 GPUs.
 */
import { stringify } from "yaml";
import type { JobMethod } from "./jobs.js";

/** Short names for the paper's open-weight models. */
export const OPEN_WEIGHT_PRESETS: Record<string, string> = {
  "llama-3.1-8b": "meta-llama/Llama-3.1-8B-Instruct",
  "mistral-7b": "mistralai/Mistral-7B-Instruct-v0.3",
};

export const PAPER_DEFAULTS: Record<JobMethod, { epochs: number; effectiveBatch: number; learningRate: number }> = {
  sft: { epochs: 1, effectiveBatch: 32, learningRate: 5e-6 },
  dpo: { epochs: 1, effectiveBatch: 64, learningRate: 5e-6 },
  rm: { epochs: 3, effectiveBatch: 256, learningRate: 5e-6 },
};

export const DEFAULT_PIP = ["torch>=2.4", "transformers>=4.46", "trl>=0.19", "datasets>=3.0", "accelerate>=1.2"];

export interface TrlConfig {
  job_id: string;
  method: JobMethod;
  model: string;
  /** Relative paths resolve against the config file's folder; `~` expands. */
  train_file: string;
  output_dir: string;
  epochs: number;
  learning_rate: number;
  per_device_batch_size: number;
  gradient_accumulation_steps: number;
  /** per device x GPUs x accumulation. */
  effective_batch_size: number;
  beta: number;
  max_length: number;
  max_prompt_length: number;
  seed: number;
  bf16: boolean;
  gradient_checkpointing: boolean;
}

export interface TrlConfigOptions {
  jobId: string;
  method: JobMethod;
  model: string;
  trainFile: string;
  outputDir: string;
  gpus: number;
  epochs?: number;
  learningRate?: number;
  effectiveBatch?: number;
  perDeviceBatchSize?: number;
  beta?: number;
  maxPromptLength?: number;
  maxLength?: number;
  seed?: number;
}

export function resolveModel(model: string): string {
  return OPEN_WEIGHT_PRESETS[model.toLowerCase()] ?? model;
}

const posInt = (v: number, what: string) => {
  if (!Number.isInteger(v) || v < 1) throw new Error(`${what} must be a positive integer, got ${v}`);
  return v;
};

export function trlConfig(o: TrlConfigOptions): TrlConfig {
  const d = PAPER_DEFAULTS[o.method];
  const gpus = posInt(o.gpus, "gpus");
  const perDevice = posInt(o.perDeviceBatchSize ?? 1, "per-device batch size");
  const effective = posInt(o.effectiveBatch ?? d.effectiveBatch, "batch size");
  const accumulation = Math.max(1, Math.round(effective / (perDevice * gpus)));
  const maxPrompt = posInt(o.maxPromptLength ?? 12_800, "max prompt length");
  const lr = o.learningRate ?? d.learningRate;
  if (!(lr > 0)) throw new Error(`learning rate must be > 0, got ${lr}`);
  const epochs = o.epochs ?? d.epochs;
  if (!(epochs > 0)) throw new Error(`epochs must be > 0, got ${epochs}`);
  return {
    job_id: o.jobId,
    method: o.method,
    model: resolveModel(o.model),
    train_file: o.trainFile,
    output_dir: o.outputDir,
    epochs,
    learning_rate: lr,
    per_device_batch_size: perDevice,
    gradient_accumulation_steps: accumulation,
    effective_batch_size: perDevice * gpus * accumulation,
    beta: o.beta ?? 0.1,
    max_length: posInt(o.maxLength ?? maxPrompt + 4096, "max length"),
    max_prompt_length: maxPrompt,
    seed: o.seed ?? 0,
    bf16: true,
    gradient_checkpointing: true,
  };
}

/** The training script (Python 3.9+); reads everything from --config. */
export const TRAIN_SCRIPT = `#!/usr/bin/env python3
"""Preflab TRL training script (generated; self-contained).

Fine-tunes a causal LM with SFT or DPO, or a Bradley-Terry reward model, with TRL, on the JSONL
that \`preflab export --target trl\` writes:
  sft  {"messages": [...]}                                  (SFTTrainer)
  dpo  {"prompt": [...], "chosen": [...], "rejected": [...]} (DPOTrainer)
  rm   {"chosen": [...], "rejected": [...]}                  (RewardTrainer, prompt inside each)
Every setting comes from the JSON config given with --config; relative paths in it resolve against
the config's folder. Run it with accelerate:
  accelerate launch --config_file accelerate.yaml train.py --config config.json
"""

import argparse
import dataclasses
import inspect
import json
import os
import sys
import time


def resolve(path, base):
    path = os.path.expanduser(path)
    return path if os.path.isabs(path) else os.path.join(base, path)


def build_args(cls, values):
    """Builds a TRL config, keeping only the fields this TRL version has (some were renamed)."""
    known = {f.name for f in dataclasses.fields(cls)}
    kept = {k: v for k, v in values.items() if k in known and v is not None}
    dropped = sorted(k for k in values if k not in known)
    if dropped:
        print("[preflab] %s has no %s; left out" % (cls.__name__, ", ".join(dropped)), file=sys.stderr)
    return cls(**kept)


def make_trainer(cls, tokenizer, **kwargs):
    """Passes the tokenizer as processing_class (TRL >= 0.12) or tokenizer (older versions)."""
    params = inspect.signature(cls.__init__).parameters
    kwargs["processing_class" if "processing_class" in params else "tokenizer"] = tokenizer
    return cls(**{k: v for k, v in kwargs.items() if k in params})


def main():
    parser = argparse.ArgumentParser(description="Preflab TRL fine-tuning")
    parser.add_argument("--config", required=True, help="JSON config written by Preflab")
    cli = parser.parse_args()
    config_path = os.path.abspath(cli.config)
    with open(config_path, encoding="utf-8") as f:
        cfg = json.load(f)
    base = os.path.dirname(config_path)
    method = cfg["method"]
    if method not in ("sft", "dpo", "rm"):
        raise SystemExit("unknown method %r (sft, dpo, rm)" % (method,))
    train_file = resolve(cfg["train_file"], base)
    output_dir = resolve(cfg["output_dir"], base)

    import torch
    from datasets import load_dataset
    from transformers import AutoModelForCausalLM, AutoModelForSequenceClassification, AutoTokenizer
    import trl

    dataset = load_dataset("json", data_files={"train": train_file}, split="train")
    tokenizer = AutoTokenizer.from_pretrained(cfg["model"])
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token
    dtype = torch.bfloat16 if cfg.get("bf16", True) else torch.float32
    common = {
        "output_dir": output_dir,
        "num_train_epochs": cfg["epochs"],
        "learning_rate": cfg["learning_rate"],
        "per_device_train_batch_size": cfg["per_device_batch_size"],
        "gradient_accumulation_steps": cfg["gradient_accumulation_steps"],
        "gradient_checkpointing": cfg.get("gradient_checkpointing", True),
        "bf16": cfg.get("bf16", True),
        "lr_scheduler_type": "cosine",
        "warmup_ratio": 0.03,
        "logging_steps": 10,
        "save_strategy": "no",
        "report_to": "none",
        "seed": cfg.get("seed", 0),
    }
    if method == "sft":
        model = AutoModelForCausalLM.from_pretrained(cfg["model"], torch_dtype=dtype)
        args = build_args(trl.SFTConfig, dict(common, max_length=cfg["max_length"], max_seq_length=cfg["max_length"]))
        trainer = make_trainer(trl.SFTTrainer, tokenizer, model=model, args=args, train_dataset=dataset)
    elif method == "dpo":
        model = AutoModelForCausalLM.from_pretrained(cfg["model"], torch_dtype=dtype)
        args = build_args(
            trl.DPOConfig,
            dict(common, beta=cfg["beta"], max_length=cfg["max_length"], max_prompt_length=cfg["max_prompt_length"]),
        )
        trainer = make_trainer(trl.DPOTrainer, tokenizer, model=model, ref_model=None, args=args, train_dataset=dataset)
    else:
        model = AutoModelForSequenceClassification.from_pretrained(cfg["model"], num_labels=1, torch_dtype=dtype)
        model.config.pad_token_id = tokenizer.pad_token_id
        args = build_args(trl.RewardConfig, dict(common, max_length=cfg["max_length"]))
        trainer = make_trainer(trl.RewardTrainer, tokenizer, model=model, args=args, train_dataset=dataset)

    started = time.time()
    trainer.train()
    trainer.save_model(output_dir)
    if trainer.accelerator.is_main_process:
        tokenizer.save_pretrained(output_dir)
        done = {
            "job_id": cfg.get("job_id"),
            "method": method,
            "model": cfg["model"],
            "output_dir": output_dir,
            "seconds": round(time.time() - started),
        }
        with open(os.path.join(output_dir, "preflab-done.json"), "w", encoding="utf-8") as f:
            json.dump(done, f, indent=2)
        print("[preflab] done: %s model saved to %s" % (method, output_dir), flush=True)


if __name__ == "__main__":
    main()
`;

/** accelerate config: FSDP full sharding on several GPUs (full fine-tuning of 7-8B models), plain on one. */
export function accelerateConfig(gpus: number): string {
  posInt(gpus, "gpus");
  const cfg: Record<string, unknown> = {
    compute_environment: "LOCAL_MACHINE",
    distributed_type: gpus > 1 ? "FSDP" : "NO",
    mixed_precision: "bf16",
    num_machines: 1,
    machine_rank: 0,
    num_processes: gpus,
    main_training_function: "main",
    rdzv_backend: "static",
    same_network: true,
    use_cpu: false,
  };
  if (gpus > 1) {
    cfg.fsdp_config = {
      fsdp_auto_wrap_policy: "TRANSFORMER_BASED_WRAP",
      fsdp_backward_prefetch: "BACKWARD_PRE",
      fsdp_cpu_ram_efficient_loading: true,
      fsdp_forward_prefetch: false,
      fsdp_offload_params: false,
      fsdp_sharding_strategy: "FULL_SHARD",
      fsdp_state_dict_type: "FULL_STATE_DICT",
      fsdp_sync_module_states: true,
      fsdp_use_orig_params: true,
    };
  }
  return stringify(cfg);
}

/** Fixed file names inside a job folder. */
export const JOB_FILES = { script: "train.py", config: "config.json", accelerate: "accelerate.yaml", sky: "sky.yaml", slurm: "job.sbatch", data: "train.jsonl" } as const;

/** Where the SkyPilot task mounts things on the cluster. */
export const SKY_PATHS = { job: "/preflab/job", data: "/preflab/data/train.jsonl", output: "/preflab/output" } as const;

export interface SkyTaskOptions {
  name: string;
  /** e.g. "A100:4", "H100:8", "A6000:4" (the paper: 4 GPUs). */
  accelerators: string;
  /** e.g. "aws", "gcp/us-central1", "k8s"; omitted: SkyPilot picks. */
  infra?: string;
  diskSize?: number;
  /** Local folder with train.py, config.json, accelerate.yaml. */
  jobDir: string;
  /** Local training JSONL. */
  trainFile: string;
  /** A bucket URL (s3://, gs://, ...) mounted at /preflab/output, so the weights outlive the cluster. */
  outputBucket?: string;
  pip?: string[];
  jobId: string;
}

export function gpusOf(accelerators: string): number {
  const m = /^[A-Za-z0-9_.-]+(?::(\d+))?$/.exec(accelerators.trim());
  if (!m) throw new Error(`accelerators must look like "A100:4", got "${accelerators}"`);
  return m[1] ? Number(m[1]) : 1;
}

export function skypilotTask(o: SkyTaskOptions): string {
  gpusOf(o.accelerators);
  const fileMounts: Record<string, unknown> = { [SKY_PATHS.job]: o.jobDir, [SKY_PATHS.data]: o.trainFile };
  if (o.outputBucket) fileMounts[SKY_PATHS.output] = { source: o.outputBucket, mode: "MOUNT" };
  const pip = (o.pip ?? DEFAULT_PIP)
    .map((p) => {
      if (!/^[A-Za-z0-9_.\-[\]<>=!~,]+$/.test(p)) throw new Error(`"${p}" is not a pip requirement (name and version specifiers only)`);
      return `'${p}'`;
    })
    .join(" ");
  const task = {
    name: o.name,
    resources: { accelerators: o.accelerators, ...(o.infra ? { infra: o.infra } : {}), disk_size: o.diskSize ?? 512 },
    num_nodes: 1,
    envs: { PREFLAB_JOB_ID: o.jobId },
    file_mounts: fileMounts,
    setup: ["set -e", `python -m pip install --upgrade pip`, `python -m pip install ${pip}`].join("\n") + "\n",
    run:
      [
        "set -e",
        `cd ${SKY_PATHS.job}`,
        `accelerate launch --config_file ${JOB_FILES.accelerate} --num_processes "$SKYPILOT_NUM_GPUS_PER_NODE" ${JOB_FILES.script} --config ${JOB_FILES.config}`,
      ].join("\n") + "\n",
  };
  return `# Generated by Preflab for fine-tuning job ${o.jobId}: sky launch this file.\n` + stringify(task, { lineWidth: 0 });
}

export interface SlurmScriptOptions {
  gpus: number;
  cpusPerTask?: number;
  /** Slurm time limit, e.g. "24:00:00" or "2-00:00:00". */
  time?: string;
  /** Shell lines that prepare the environment on the cluster (module load, venv activation), from a file the user wrote. */
  setup?: string;
  jobId: string;
}

export function slurmScript(o: SlurmScriptOptions): string {
  posInt(o.gpus, "gpus");
  const cpus = posInt(o.cpusPerTask ?? 8 * o.gpus, "cpus per task");
  const time = o.time ?? "24:00:00";
  if (!/^(\d+-)?\d{1,3}(:\d{2}){0,2}$/.test(time)) throw new Error(`time must be a Slurm time limit such as 24:00:00 or 2-00:00:00, got "${time}"`);
  if (!/^ft-[0-9a-f-]+$/.test(o.jobId)) throw new Error(`bad job id "${o.jobId}"`);
  const lines = [
    "#!/bin/bash",
    `# Generated by Preflab for fine-tuning job ${o.jobId}. Submitted with sbatch --chdir=<job folder>,`,
    "# so the relative file names below are that folder's.",
    "#SBATCH --nodes=1",
    "#SBATCH --ntasks-per-node=1",
    `#SBATCH --gres=gpu:${o.gpus}`,
    `#SBATCH --cpus-per-task=${cpus}`,
    `#SBATCH --time=${time}`,
    "set -euo pipefail",
    `export PREFLAB_JOB_ID=${o.jobId}`,
  ];
  if (o.setup && o.setup.trim()) {
    lines.push("# ---- setup (from --setup-file)", "set +u", o.setup.replace(/\s+$/, ""), "set -u", "# ---- end of setup");
  }
  lines.push(
    `NUM_GPUS="\${SLURM_GPUS_ON_NODE:-${o.gpus}}"`,
    `echo "[preflab] job $PREFLAB_JOB_ID on $(hostname) with $NUM_GPUS GPU(s)"`,
    `accelerate launch --config_file ${JOB_FILES.accelerate} --num_processes "$NUM_GPUS" ${JOB_FILES.script} --config ${JOB_FILES.config}`,
  );
  return lines.join("\n") + "\n";
}
