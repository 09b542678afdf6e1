// Type-checked (not run) by the test command: the package's typings support the documented use.
import { Orchestrator, loadFeature, detectAgents, cloneWorkspace, listWorkspaces, removeWorkspace, KittyError, type Event, type Lane, type RunSummary, type ErrorCode, type FeatureGraph, type GraphNode } from '../../lib'

async function example(): Promise<RunSummary> {
  const orch = new Orchestrator('.', { max_concurrent_wps: 4 })
  const controller = new AbortController()
  const lanes: Lane[] = loadFeature('kitty-specs/020').workPackages.map((wp) => wp.initialLane)
  const summary = await orch.run('020', {
    signal: controller.signal,
    implAgents: ['codex'],
    onEvent: (e: Event) => {
      if (e.type === 'lane_changed') console.log(e.wp, e.fromLane, e.toLane)
      if (e.type === 'agent_finished' && !e.success) console.log(e.failure, e.durationMs)
    },
  })
  const done: number = summary.wps.filter((w) => w.lane === 'done').length
  const status = await orch.status('020')
  const quick = orch.statusSync('020')
  const agents = await detectAgents()
  const history = await orch.history('020', 'WP01')
  console.log(lanes, done, status.wps['WP01']?.lane, status.run?.runs, quick.corrupt.length, agents[0]?.checkedVersion, agents[0]?.sandbox.implementationWritable.length)
  console.log(history[0]?.subject, history[0]?.state.attemptsTotal, summary.runId, summary.wps[0]?.reviewCycles)
  // History events are typed by their `type`.
  for (const entry of history) {
    if (entry.event.type === 'approved') console.log(entry.event.reviewer)
    if (entry.event.type === 'agent_finished') console.log(entry.event.durationMs, entry.event.failure)
  }
  try {
    await orch.retry('020', 'WP01')
    await orch.release('020', 'WP02')
  } catch (err) {
    // A real class: instanceof narrows, and the code is the union of codes.
    if (err instanceof KittyError) {
      const code: ErrorCode = err.code
      console.log(code, err.name)
    }
  }
  console.log(await orch.abort('020'), orch.historySync('020', 'WP01').length)
  const shared = await orch.statusRemote('020', 'origin')
  const stopped = await orch.abortRemote('020')
  console.log(shared.hosts[0]?.ageSeconds, shared.wps['WP01']?.owner?.host, shared.abortRequested, stopped.localRun)
  await orch.run('020', { remote: 'origin', maxConcurrent: 2 })
  const landed = await orch.merge('020', { into: 'feature/020', strategy: 'squash', dryRun: true, originCheck: 'warn', onEvent: (e: Event) => e.type === 'merged' && console.log(e.wps) })
  const merged: string[] = landed.steps.filter((s) => s.action === 'merge').map((s) => s.wp)
  const pushed = await orch.push('020', { remote: 'origin', branches: true })
  const pr = await orch.pullRequest('020', { base: 'main' })
  const report = await orch.report('020')
  console.log(pr.pullRequest.url, pr.created, report.outcome, report.wps[0]?.commits.length, landed.pullRequest?.via)
  console.log(report.wps[0]?.dependsOn, report.wps[0]?.runs[0]?.outcome)
  const graph: FeatureGraph = await orch.graph('020')
  const firstLayer: GraphNode[] = graph.nodes.filter((n) => n.layer === 0 && n.class !== 'blocked')
  console.log(firstLayer, graph.edges.map((e) => `${e.from}->${e.to}`), graph.lanes.map((l) => `${l.lane}:${l.count}`))
  for await (const next of orch.watch('020', { pollMs: 500, signal: AbortSignal.timeout(10_000) })) {
    console.log(next.fingerprint, next.nodes.length)
  }
  console.log(pushed.refs.map((r) => r.status), landed.pushError?.code)
  console.log(merged, landed.verify?.fixRounds, landed.conflicts[0]?.paths, status.wps['WP01']?.merged?.commit)
  console.log(landed.ticked, landed.warnings)
  const cloned = await cloneWorkspace('https://example.com/org/app.git', { workspaceDir: '/tmp/ws', branch: 'main' })
  const kiro = new Orchestrator(cloned.path, undefined, { format: 'kiro', includeOptional: true })
  const listed = await listWorkspaces('/tmp/ws')
  console.log(kiro, cloned.reused, listed[0]?.features[0]?.done, loadFeature('PLAN.md', { format: 'task-list' }).slug)
  const removed = await removeWorkspace('app', { workspaceDir: '/tmp/ws', force: true })
  console.log(removed.backup, removed.worktreesRemoved)
  return summary
}

void example
