// Types of the kitty-orchestrator Node package (lib/index.js). The native addon's own
// generated definitions are in ./native.d.ts.

import type { Feature, WorkPackage } from './native'

export type { Feature, WorkPackage }

/** Where a work package is in its lifecycle. */
export type Lane = 'planned' | 'doing' | 'for_review' | 'done' | 'blocked' | 'canceled'
export type Role = 'implementation' | 'review'
export type FailureClass =
  | 'timeout'
  | 'idle_timeout'
  | 'auth'
  | 'rate_limit'
  | 'network'
  | 'spawn'
  | 'crash'
  | 'no_changes'
  | 'invalid_output'
  | 'nonzero_exit'
  | 'read_only_violation'
  | 'ref_tampering'

/** Stable error codes, the same in the CLI (`--json`) and Python (`KittyError.code`). */
export type ErrorCode =
  | 'feature_invalid'
  | 'feature_not_found'
  | 'config_invalid'
  | 'no_agents'
  | 'unknown_agent'
  | 'sandbox_unavailable'
  | 'io'
  | 'git'
  | 'illegal_transition'
  | 'state_conflict'
  | 'state_corrupt'
  | 'state_missing'
  | 'run_locked'
  | 'worktree_conflict'
  | 'worktree_missing_base'
  | 'worktree_path_taken'
  | 'worktree_branch_in_use'
  | 'worktree_locked'
  | 'worktree_dirty'
  | 'worktree_setup_failed'
  | 'merge_not_ready'
  | 'merge_conflict'
  | 'target_moved'
  | 'target_dirty'
  | 'push_rejected'
  | 'remote_failed'
  | 'pr_auth_missing'
  | 'pr_failed'
  | 'wp_id_invalid'
  | 'wp_not_found'
  | 'not_a_repository'
  | 'internal'
  | 'aborted'

/**
 * Every error this package throws or rejects with — but an abort by your own `AbortSignal`,
 * which rejects with `signal.reason` (an `AbortError` `DOMException` unless you gave `abort()`
 * another reason), as `fetch` and `timers/promises` do. `err instanceof KittyError` narrows it.
 */
export declare class KittyError extends Error {
  readonly name: 'KittyError'
  /** The stable code, the same in the CLI (`--json`) and Python (`KittyError.code`). */
  readonly code: ErrorCode
  constructor(code: ErrorCode, message: string)
}

/** One step of an agent's plan. */
export interface PlanStep {
  content: string
  /** `pending`, `in_progress` or `completed`. */
  status: string
}

/**
 * What an agent reported doing (agents driven over ACP), told apart by `type`: a tool call and
 * its status, its plan, a permission it asked for and our answer (by policy), usage and cost.
 */
export type Activity =
  | {
      type: 'tool_call'
      id: string
      title: string
      /** `read`, `edit`, `delete`, `move`, `search`, `execute`, `think`, `fetch`, `switch_mode`, `other`. */
      tool: string
      /** `pending`, `in_progress`, `completed`, `failed`. */
      status: string
      /** Files it touches, relative to the worktree when inside it. */
      paths: string[]
    }
  | { type: 'plan'; steps: PlanStep[] }
  | { type: 'permission'; title: string; tool: string; allowed: boolean; reason: string }
  | { type: 'usage'; usedTokens: number; contextTokens: number; costUsd: number | null }

/**
 * Run events, told apart by `type` (the same values as in Rust, Python and the CLI). Every
 * object this package returns has camelCase keys; the CLI's `--json` has the same data with
 * snake_case keys.
 */
export type Event =
  | { type: 'run_started'; feature: string; runId: string; wps: number; done: number }
  | { type: 'lane_changed'; feature: string; wp: string; fromLane: Lane; toLane: Lane; agent: string | null }
  | { type: 'agent_started'; feature: string; wp: string; agent: string; role: Role; attempt: number; pid: number | null; log: string }
  | { type: 'agent_output'; feature: string; wp: string; agent: string; stream: 'stdout' | 'stderr'; line: string }
  | { type: 'agent_activity'; feature: string; wp: string; agent: string; activity: Activity }
  | {
      type: 'agent_finished'
      feature: string
      wp: string
      agent: string
      role: Role
      attempt: number
      success: boolean
      failure: FailureClass | null
      summary: string
      durationMs: number
      costUsd: number | null
    }
  | { type: 'retry_scheduled'; feature: string; wp: string; agent: string; attempt: number; delayMs: number; failure: FailureClass }
  | { type: 'wp_blocked'; feature: string; wp: string; reason: string; log: string | null }
  | { type: 'run_finished'; feature: string; runId: string; summary: RunSummary }
  | { type: 'merge_verified'; feature: string; round: number; passed: boolean; fixAgent: string | null; log: string }
  | { type: 'merge_resolved'; feature: string; wp: string; agent: string; paths: string[]; commit: string }
  | { type: 'merged'; feature: string; target: string; commit: string; strategy: MergeStrategy; wps: string[] }

export type EventType = Event['type']

export interface WpSummary {
  id: string
  title: string
  lane: Lane
  agents: string[]
  attempts: number
  reviewCycles: number
  agentMs: number
  costUsd: number
  reason: string | null
  head: string | null
  logs: string[]
  /** The run holding the WP when it is not this one (another host, a dead run). */
  owner: string | null
  /** Paths auto-commit left out (secret-looking files, `.worktreeinclude` copies). */
  withheld: string[]
  /** Writes the sandbox refused, as the agents' own output reported them ("Permission denied" lines, clipped). */
  refused: string[]
  /** Its worktree directory, while it has one. */
  worktree: string | null
  /** The WP its worktree went to when the run recycled it (`recycle_worktrees`). */
  worktreeRecycledTo?: string
}

export interface CorruptState {
  reference: string
  why: string
}

export interface RunSummary {
  feature: string
  runId: string
  outcome: 'completed' | 'blocked' | 'aborted'
  wps: WpSummary[]
  done: number
  blocked: number
  remaining: number
  costUsd: number
  durationMs: number
  verify: { command: string[]; success: boolean; exitCode: number | null; log: string } | null
  /** WP refs whose state could not be read (those WPs were left alone). */
  corrupt: CorruptState[]
  /** The merge that ended the run (`auto_merge`). */
  merge?: MergeReport
  /** Why that merge failed. */
  mergeError?: { code: ErrorCode; message: string }
  /** What did not stop the run but needs a person (spec-kitty's files not written, and why). */
  warnings?: string[]
}

export interface RunOptions {
  /** Called on the JS thread for every event; an exception is reported as a warning. */
  onEvent?: (event: Event) => void
  /**
   * Aborting it aborts the run — agents are stopped, WPs stay resumable — and the Promise
   * rejects with `signal.reason` (an `AbortError` by default), also when it was aborted before
   * the run began. A run aborted from elsewhere (`abort()`, the CLI) resolves with outcome
   * `'aborted'`.
   */
  signal?: AbortSignal
  implAgents?: string[]
  reviewAgents?: string[]
  /** 1 to 64. */
  maxConcurrent?: number
  /** Deliver every agent output line as an `agent_output` event. */
  outputLines?: boolean
  /** Time between SIGTERM and SIGKILL when stopping an agent (at most one hour). */
  graceMs?: number
  /** First retry delay (at most one hour). */
  retryBaseMs?: number
  /** Share the feature with other machines through this git remote (overrides `sync_remote`). */
  remote?: string
}

export type MergeStrategy = 'merge' | 'squash'

export interface MergeOptions {
  /** Called on the JS thread for every event; an exception is reported as a warning. */
  onEvent?: (event: Event) => void
  /** Land on this branch instead of the feature's target (created from it when missing). */
  into?: string
  /** Default: the configuration's `merge_strategy`. */
  strategy?: MergeStrategy
  /** Land the done WPs whose dependencies all land, even when others are not done. */
  partial?: boolean
  /** Compute everything, change nothing. */
  dryRun?: boolean
  /** Give conflicts to an implementation agent instead of stopping. */
  resolve?: boolean
  /** Push what landed afterwards. */
  push?: boolean
  /** Open (or update) the landed branch's pull request afterwards (pushes it). */
  pr?: boolean
  /** Send done WPs whose branch moved after review approved it back to review instead of refusing (`merge_not_ready`). */
  reopenMoved?: boolean
  /** A spec-kitty 4.0 mission: whether `spec-kitty consolidate` checks origin first (default: spec-kitty's, `enforce`). */
  originCheck?: 'enforce' | 'warn' | 'off'
}

/** Where a WP's work landed. */
export interface MergeRecord {
  into: string
  commit: string
  strategy: MergeStrategy
  head: string | null
}

export interface MergeStep {
  wp: string
  title: string
  branch: string | null
  head: string | null
  action: 'merge' | 'already_merged' | 'in_target' | 'no_changes' | 'not_done' | 'excluded' | 'conflicts' | 'after_conflict'
  /** For `not_done`. */
  lane?: Lane
  /** For `excluded` and `after_conflict`: the dependency that does not land. */
  because?: string
  commit: string | null
}

export interface Conflict {
  wp: string
  with: string[]
  paths: string[]
}

export interface VerifyRound {
  round: number
  fixAgent: string | null
  fixLog: string | null
  fixCommit: string | null
  passed: boolean
  exitCode: number | null
  log: string
}

export interface MergeReport {
  feature: string
  target: string
  strategy: MergeStrategy
  outcome: 'merged' | 'nothing_to_merge' | 'dry_run' | 'verify_failed'
  previous: string | null
  commit: string | null
  steps: MergeStep[]
  conflicts: Conflict[]
  resolutions: Array<Conflict & { agent: string; commit: string; log: string }>
  worktreeUpdated: string | null
  verify: { command: string[]; passed: boolean; fixRounds: number; rounds: VerifyRound[]; log: string; note: string | null } | null
  integrationWorktree: string | null
  pushed: PushReport | null
  /** The push after the merge failed (the landing stands). */
  pushError: { code: ErrorCode; message: string } | null
  /** The feature's report after the merge. */
  report: FeatureReport | null
  pullRequest: PrReport | null
  prError: { code: ErrorCode; message: string } | null
  /** Per landed WP, what `cleanup` removed. */
  cleanup: Array<{
    wp: string
    worktreeRemoved: boolean
    backup: string | null
    branchDeleted: boolean
    keptAs: string | null
    note: string | null
    /** What git ignored in the removed worktree, and what became of each path. */
    ignored: Array<{ path: string; fate: 'build_output' | 'saved' | 'moved_aside' | 'too_large'; bytes: number }>
  }>
  /** WPs whose task box (`tasks.md`, a `PLAN.md`) the landing ticked. */
  ticked: string[]
  /** Problems the landing went on after (a task line changed since it was read). */
  warnings: string[]
}

export interface PushOptions {
  /** Default: the configuration's `push_remote`, else `origin`. */
  remote?: string
  /** Default: where the feature last landed. */
  branch?: string
  /** Push the WP branches too. */
  branches?: boolean
}

export interface PushReport {
  remote: string
  refs: Array<{ reference: string; old: string | null; new: string; status: 'created' | 'updated' | 'up_to_date' }>
}

export interface PrOptions {
  /** Default: the configuration's `push_remote`. */
  remote?: string
  /** The branch with the work (default: where the feature last landed). */
  head?: string
  /** The branch it goes into (default: the feature's target branch). */
  base?: string
}

export interface PrReport {
  pullRequest: { number: number; url: string }
  /** `false`: the open one was updated. */
  created: boolean
  repository: string
  via: string
  head: string
  base: string
  pushed: PushReport
}

export interface FeatureReport {
  feature: string
  outcome: 'complete' | 'partial' | 'failed'
  done: number
  total: number
  costUsd: number
  agentMs: number
  wps: Array<{
    id: string
    title: string
    lane: Lane
    agents: string[]
    attempts: number
    reviewCycles: number
    agentMs: number
    costUsd: number
    branch: string | null
    commits: Array<{ id: string; subject: string; author: string }>
    landed: string | null
    reason: string | null
    /** The WPs it depends on. */
    dependsOn: string[]
    /** Its agent runs, oldest first: `outcome` is `succeeded`, `approved` / `rejected` (a review), or the failure class. */
    runs: Array<{ role: Role; agent: string; attempt: number; startedAt: string; durationMs: number; outcome: string; costUsd: number | null }>
  }>
  landing: { into: string; commit: string; strategy: MergeStrategy; wps: string[]; fixRounds: number } | null
  verify: MergeReport['verify']
  resolutions: MergeReport['resolutions']
  /** The feature's pull request, once `pullRequest()` opened one. */
  pullRequest: { number: number; url: string; head: string; base: string } | null
}

/** One WP of a {@link FeatureGraph}. */
export interface GraphNode {
  id: string
  title: string
  lane: Lane
  /** How it is drawn: `done`, `doing` (doing or for review), `planned`, `blocked` (blocked or canceled). */
  class: 'done' | 'doing' | 'planned' | 'blocked'
  /** Its dependency layer (0: depends on nothing in the feature). */
  layer: number
}

/** How many WPs are in one lane. */
export interface LaneCount {
  lane: Lane
  count: number
}

/** `to` depends on `from`. */
export interface GraphEdge {
  from: string
  to: string
}

/** The feature as an editor draws it (`graph()`, `watch()`). */
export interface FeatureGraph {
  feature: string
  /** Every WP, in dependency order. */
  nodes: GraphNode[]
  edges: GraphEdge[]
  /** WPs per lane, every lane in board order (zero included). */
  lanes: LaneCount[]
  /** Changes whenever any of the feature's refs moves. */
  fingerprint: string
}

export interface WatchOptions {
  /** How often the refs are looked at (default 300 ms). */
  pollMs?: number
  /** Ends the iteration. */
  signal?: AbortSignal
}

export interface Owner {
  runId: string
  pid: number
  host: string
}

/** The state of one WP, as stored in `state.json` of its ref's tip. */
export interface WpState {
  format: number
  feature: string
  wp: string
  lane: Lane
  seq: number
  eventId: string
  lastEvent: { type: string; [key: string]: unknown }
  runId: string | null
  owner: Owner | null
  agent: string | null
  role: Role | null
  attempt: number
  attemptsTotal: number
  reviewCycle: number
  agentsUsed: string[]
  pid: number | null
  log: string | null
  failure: FailureClass | null
  reason: string | null
  feedback: string | null
  worktree: string | null
  branch: string | null
  base: string | null
  head: string | null
  costUsd: number
  agentMs: number
  withheld?: string[]
  /** Writes the sandbox refused, as the agents' own output reported them. */
  refused?: string[]
  /** The latest implementation attempt's own session id: a rework by the same agent continues it. */
  session?: string
  /** The agent whose session `session` is. */
  sessionAgent?: string
  /** Where the work landed most recently, once merged. */
  merged?: MergeRecord
  /** Every branch the work landed on, the latest landing on each. */
  landings?: MergeRecord[]
  createdAt: string
  updatedAt: string
}

export interface RunState {
  format: number
  feature: string
  seq: number
  eventId: string
  lastEvent: { type: string; [key: string]: unknown }
  status: 'running' | 'aborted' | 'finished'
  owner: Owner | null
  runs: number
  summary: RunSummary | null
  /** The latest landing, once the feature was merged. */
  merged?: MergeRecord
  /** The feature's pull request, once `pullRequest()` opened one. */
  pullRequest?: { number: number; url: string; head: string; base: string }
  startedAt: string
  updatedAt: string
}

export interface Status {
  feature: string
  run: RunState | null
  wps: Record<string, WpState>
  /** Refs that could not be read, each with why; the other WPs are still in `wps`. */
  corrupt: CorruptState[]
  /** A shared run here that cannot reach its remote (results held locally until it is back). */
  offline?: { remote: string; since: string }
}

/** A machine's heartbeat on a shared remote. */
export interface RemoteHost {
  host: string
  heartbeatAt: string
  /** By this machine's clock: a hint (runs judge leases by when they saw a heartbeat change). */
  ageSeconds: number
  runId: string | null
}

/** A shared feature's board as its remote has it. */
export interface RemoteStatus {
  remote: string
  feature: string
  wps: Record<string, WpState>
  corrupt: CorruptState[]
  hosts: RemoteHost[]
  /** The last abort requested there (`abortRemote`), if any. */
  abortRequested: string | null
}

/** What `abortRemote` did. */
export interface RemoteAbort {
  remote: string
  /** The request's commit on `refs/kitty/shared-run/<feature>/requests`. */
  request: string
  /** A run of the feature in this clone was signalled too. */
  localRun: boolean
}

/** An event of a WP's chain (`HistoryEntry.event`), told apart by `type` — the `Kitty-Event` trailer's value, the same in Rust, Python and the CLI. */
export type WpEvent =
  | { type: 'imported'; lane: Lane }
  | { type: 'claimed'; owner: Owner }
  | { type: 'reclaimed'; owner: Owner; previous: Owner }
  | { type: 'released'; reason: string }
  | { type: 'force_released'; previous: Owner; reason: string }
  | { type: 'worktree_ready'; path: string; branch: string; base: string }
  | { type: 'agent_started'; agent: string; role: 'implementation' | 'review'; attempt: number; pid: number | null; log: string | null }
  | {
      type: 'agent_finished'
      agent: string
      role: 'implementation' | 'review'
      attempt: number
      failure: FailureClass | null
      costUsd: number | null
      durationMs: number
      head: string | null
      withheld?: string[]
      refused?: string[]
      /** The agent's own session id, what a rework by the same agent continues. */
      session?: string
    }
  | { type: 'retry_scheduled'; agent: string; attempt: number; delayMs: number; failure: FailureClass }
  | { type: 'submitted'; head: string }
  | { type: 'approved'; reviewer: string }
  | { type: 'rejected'; reviewer: string; feedback: string }
  | { type: 'blocked'; reason: string }
  | { type: 'canceled'; reason: string }
  | { type: 'retried' }
  | { type: 'reopened'; head: string; reason: string }
  | { type: 'merged'; into: string; commit: string; strategy: MergeStrategy; head: string }

export interface HistoryEntry {
  commit: string
  subject: string
  /** Typed by `type` (`if (e.event.type === 'approved') e.event.reviewer`). */
  event: WpEvent
  state: WpState
}

export interface DetectedAgent {
  id: string
  builtin: boolean
  program: string
  path: string | null
  version: string | null
  enabled: boolean
  checkedVersion: string | null
  /** It can run here (installed; for `openai-api`: its key variable set, or a loopback endpoint). */
  available: boolean
  /** Why it cannot run here, when it cannot. */
  whyNot: string | null
  /** How it is confined on this machine, and what each role may write. */
  sandbox: AgentSandbox
  /** How it is driven, as configured: its headless CLI or the Agent Client Protocol. */
  driver: 'cli' | 'acp'
  /** For a built-in profile: each driver it has, and the newest release proven end to end with it. */
  proven: DriverProof[]
}

/** One driver of a built-in agent and how far it is proven here. */
export interface DriverProof {
  driver: 'cli' | 'acp'
  /** `--version` of the newest release that ran a feature end to end with this driver. */
  version: string | null
  /** Why it is not proven here, when it is not. */
  notProven: string | null
}

/** An agent's confinement here (Landlock); `<worktree>`, `<git-common-dir>`, `<attempt-tmp>` stand for what each attempt fills in. */
export interface AgentSandbox {
  mode: 'best_effort' | 'required' | 'off'
  /** Its processes are confined on this machine (the mode is not `off` and Landlock holds). */
  confined: boolean
  /** Why not, when not (under `required`, runs are refused). */
  whyNot: string | null
  implementationWritable: string[]
  reviewWritable: string[]
  /** Of `implementationWritable`, the git directories (the worktree's admin directory and the attempt's private store): regular files and directories only. */
  gitFilesOnly: string[]
  /** The agent's own directories and caches as every attempt gets them: private copies in its temporary directory. */
  privateCopies: string[]
}

export declare class Orchestrator {
  /**
   * `config`: a path to an orchestrator.toml, an object with its keys, or nothing. `options.format`
   * reads features with that reader instead of by their path's shape; `options.includeOptional`
   * loads Kiro's optional tasks too (default: the configuration's `include_optional`).
   */
  constructor(repo: string, config?: string | Record<string, unknown>, options?: LoadOptions)
  run(feature: string, options?: RunOptions): Promise<RunSummary>
  /** Lands the done WPs on the target branch in dependency order; nothing changes unless all merge. */
  merge(feature: string, options?: MergeOptions): Promise<MergeReport>
  /** Pushes what landed through `git`, each ref with its expected old value. */
  push(feature: string, options?: PushOptions): Promise<PushReport>
  /** Pushes the landed branch and opens (or updates) its pull request, the report as body. */
  pullRequest(feature: string, options?: PrOptions): Promise<PrReport>
  report(feature: string): Promise<FeatureReport>
  /** The feature as a graph to draw, read from the refs. */
  graph(feature: string): Promise<FeatureGraph>
  /** The graph now, then each time the feature's refs move (here, in another process, or after a fetch). */
  watch(feature: string, options?: WatchOptions): AsyncGenerator<FeatureGraph, void, undefined>
  /** The board, read off the JS thread. */
  status(feature: string): Promise<Status>
  /** The board, the JS thread waiting for the read (~5 ms for 1000 WPs). */
  statusSync(feature: string): Status
  history(feature: string, wp?: string): Promise<HistoryEntry[]>
  /** History on the JS thread: cheap for one WP. */
  historySync(feature: string, wp?: string): HistoryEntry[]
  /** Resolves with whether a live run was signalled. */
  abort(feature: string): Promise<boolean>
  /** The board as the shared remote (default: `sync_remote`) has it, with each machine's heartbeat. */
  statusRemote(feature: string, remote?: string): Promise<RemoteStatus>
  /** Records an abort on the shared remote: every machine's run stops at its next look at it. */
  abortRemote(feature: string, remote?: string): Promise<RemoteAbort>
  retry(feature: string, wp: string): Promise<WpState>
  /** Frees a WP held by a run that cannot release it (another host, a crashed container). */
  release(feature: string, wp: string): Promise<WpState>
}

/** The readers a feature can be read with. */
export type FeatureFormat = 'spec-kitty' | 'kiro' | 'task-list'

/** How a feature is read. */
export interface LoadOptions {
  format?: FeatureFormat
  includeOptional?: boolean
}

export declare function loadFeature(path: string, options?: LoadOptions): Feature

/** A workspace after `cloneWorkspace`. */
export interface ClonedWorkspace {
  name: string
  path: string
  /** It existed (a clone of the same URL) and was fetched and reused. */
  reused: boolean
  branch: string | null
  /** Problems it went on after (a fetch that failed, a branch that could not fast-forward). */
  warnings: string[]
}

/** A feature of a workspace with its progress from the refs. */
export interface WorkspaceFeature {
  feature: string
  /** Its files relative to the workspace (null: only in the refs). */
  source: string | null
  wps: number
  done: number
  lanes: Record<string, number>
  /** The last run's status (`running`, `finished`, `aborted`, …). */
  run: string | null
  problem: string | null
}

/** One workspace: origin (credentials masked), branch and features. */
export interface Workspace {
  name: string
  path: string
  origin: string | null
  branch: string | null
  features: WorkspaceFeature[]
  problem: string | null
}

/** What `removeWorkspace` did: `backup` is the bundle holding every ref. */
export interface RemovedWorkspace {
  path: string
  backup: string | null
  unsaved: string[]
  worktreesRemoved: string[]
}

/** Clones `url` into `<workspaceDir>/<repo name>` through git, or reuses that clone. */
export declare function cloneWorkspace(url: string, options?: { workspaceDir?: string; branch?: string }): Promise<ClonedWorkspace>
/** Every workspace in `workspaceDir` with its features' progress. */
export declare function listWorkspaces(workspaceDir?: string): Promise<Workspace[]>
/** Removes a workspace; refused with unsaved work unless `force`; backed up first either way. */
export declare function removeWorkspace(name: string, options?: { workspaceDir?: string; force?: boolean }): Promise<RemovedWorkspace>
export declare function detectAgents(config?: Record<string, unknown>): Promise<DetectedAgent[]>
export declare function version(): string
