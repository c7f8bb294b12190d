/**
 * The shapes of a counterfactual dataset: what the evaluations consume (Triple, Pair,
 * SyntheticUser with its HistoryEntry texts, hydrated by the reader in dataset.ts) and what the
 * build writes (format 2: each train text once in train.jsonl, pairs and histories by id).
 */
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

/** The on-disk format the build writes. Format 1 (pairs and histories with their texts copied in) is still read. */
export const FORMAT_VERSION = 2;

/** A train instruction with its three rows' preference sets and responses (train.jsonl, one line each). */
export interface TrainTriple {
  id: string;
  prompt: string;
  members: [TrainMember, TrainMember, TrainMember];
}

export interface TrainMember {
  preference_set: PreferenceEntry[];
  response: string;
}

/** A line of pairs.jsonl in format 2: the pair's members of its train triple. */
export interface PairRef {
  id: string;
  tripleId: string;
  chosenMember: number;
  rejectedMember: number;
}

/** A history entry as stored in format 2's users.jsonl: the pair by id and its retrieval score. */
export interface HistoryRef {
  pairId: string;
  score: number;
}

/** A line of users.jsonl in format 2. */
export interface StoredUser extends Omit<SyntheticUser, "history"> {
  history: HistoryRef[];
}

/** A user without history texts: what lists and trees show. */
export interface UserSummary extends Omit<SyntheticUser, "history"> {
  historySize: number;
  /** Mean similarity score of the history pairs (0 without history). */
  meanScore: number;
}

export interface Manifest {
  /** The format version (FORMAT_VERSION when built by this Preflab). */
  version: 1 | 2;
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
  /**
   * Per dimension: test pairs (a user's golden response vs another member's) whose rejected member
   * states the same preference as the user on the user's dimension, so they cannot tell that user
   * apart (contrast.ts). Format 2 only.
   */
  nonContrastive?: Record<Dimension, number>;
}

export const DATASET_FILES = {
  manifest: "manifest.json",
  /** Test triples. */
  triples: "triples.jsonl",
  /** Format 2: train triples (each train text once). */
  train: "train.jsonl",
  pairs: "pairs.jsonl",
  users: "users.jsonl",
  /** Format 2: where each line of triples, train and users is, by id (line-index.ts). */
  triplesIndex: "triples.idx",
  trainIndex: "train.idx",
  usersIndex: "users.idx",
} as const;
