/** The shapes Preflab writes for a counterfactual dataset (manifest.json, triples/pairs/users.jsonl). */
import type { Dimension, PreferenceEntry, Rubric } from "./schema.js";

export type HistoryMode = "per-example" | "fixed";
export type PairsMode = "one" | "all";

export interface TripleMember {
  system: string;
  preference_set: PreferenceEntry[];
  /** The golden (reference) answer written for this member's preferences. */
  response: string;
  rubrics: Rubric[];
}

/** A test instruction with its three preference sets and three golden responses. */
export interface Triple {
  id: string;
  prompt: string;
  members: [TripleMember, TripleMember, TripleMember];
}

/** A train preference pair: chosen = member j's response, rejected = another member's. */
export interface Pair {
  id: string;
  prompt: string;
  chosen: string;
  rejected: string;
  chosenPreferenceSet: PreferenceEntry[];
  rejectedPreferenceSet: PreferenceEntry[];
  tripleId: string;
  chosenMember: number;
  rejectedMember: number;
}

export interface UserPreference {
  subdimension: string;
  preference: string;
  description: string;
}

export interface HistoryEntry {
  pairId: string;
  prompt: string;
  chosen: string;
  rejected: string;
  /** The chosen side's preference on the user's dimension. */
  preference: UserPreference;
  /** Lexical similarity (TF-IDF cosine) of this preference to the user's. */
  score: number;
}

/** One synthetic user: member `member` of test triple `tripleId`, on one dimension. */
export interface SyntheticUser {
  id: string;
  tripleId: string;
  member: number;
  dimension: Dimension;
  preference: UserPreference;
  history: HistoryEntry[];
}

export interface ShortHistory {
  userId: string;
  found: number;
  wanted: number;
}

export interface Manifest {
  version: 1;
  seed: number;
  historySize: number;
  historyMode: HistoryMode;
  pairsMode: PairsMode;
  inputs: { split: "train" | "test"; path: string; sha256: string; rows: number }[];
  counts: { trainRows: number; testRows: number; trainTriples: number; testTriples: number; trainPairs: number; users: number };
  skipped: {
    /** Instructions whose row count was not 3, by split: count of groups and rows, and sizes seen. */
    trainGroups: number;
    trainRows: number;
    testGroups: number;
    testRows: number;
    groupSizes: { train: Record<string, number>; test: Record<string, number> };
  };
  shortHistories: ShortHistory[];
}

export const DATASET_FILES = { manifest: "manifest.json", triples: "triples.jsonl", pairs: "pairs.jsonl", users: "users.jsonl" } as const;
