// Type-checked (not run) by the test command: the package's typings support the documented use.
import { Orchestrator, loadFeature, detectAgents, type Event, type Lane, type RunSummary, type KittyError } from '../../lib'

async function example(): Promise<RunSummary> {
  const orch = new Orchestrator('.', { max_concurrent_wps: 4 })
  const controller = new AbortController()
  const lanes: Lane[] = loadFeature('kitty-specs/020').workPackages.map((wp) => wp.initialLane)
  const summary = await orch.run('020', {
    signal: controller.signal,
    implAgents: ['codex'],
    onEvent: (e: Event) => {
      if (e.type === 'lane_changed') console.log(e.wp, e.from, e.to)
      if (e.type === 'agent_finished' && !e.success) console.log(e.failure)
    },
  })
  const done: number = summary.wps.filter((w) => w.lane === 'done').length
  const status = orch.status('020')
  console.log(lanes, done, status.wps['WP01']?.lane, detectAgents()[0]?.version, orch.history('020', 'WP01')[0]?.subject)
  try {
    orch.retry('020', 'WP01')
  } catch (err) {
    const code: KittyError['code'] = (err as KittyError).code
    console.log(code)
  }
  return summary
}

void example
