'use strict'
// The engine from Node: real repositories, the fake agents as real processes.
const test = require('node:test')
const assert = require('node:assert/strict')
const fs = require('node:fs')
const os = require('node:os')
const path = require('node:path')
const { execFileSync, spawn } = require('node:child_process')
const ko = require('../..')
const { FIXTURES } = require('./helpers')

const FAKE = path.join(FIXTURES, 'agents', 'fake-agent')

function git(dir, ...args) {
  return execFileSync('git', args, { cwd: dir, encoding: 'utf8' })
}

function makeRepo(slug, wps) {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'kitty-node-'))
  git(dir, 'init', '-q', '-b', 'main')
  git(dir, 'config', 'user.name', 'Test')
  git(dir, 'config', 'user.email', 't@example.com')
  const tasks = path.join(dir, 'kitty-specs', slug, 'tasks')
  fs.mkdirSync(tasks, { recursive: true })
  for (const [wp, deps] of Object.entries(wps)) {
    fs.writeFileSync(path.join(tasks, `${wp}-work.md`), `---\nwork_package_id: ${wp}\ntitle: Work ${wp}\ndependencies: [${deps.join(', ')}]\n---\nCreate ${wp}.txt\n`)
  }
  git(dir, 'add', '-A')
  git(dir, 'commit', '-q', '-m', 'feature')
  return dir
}

function config(implEnv = {}) {
  return {
    max_concurrent_wps: 4,
    max_retries: 1,
    agents: {
      implementation: ['impl'],
      review: ['rev'],
      impl: { command: [FAKE], output: 'stream-json', env: implEnv },
      rev: { command: [FAKE], output: 'stream-json' },
    },
  }
}

/** Every object key at every depth, except the keys of `wps` maps (WP ids). */
function keysOf(value, out = []) {
  if (Array.isArray(value)) value.forEach((v) => keysOf(v, out))
  else if (value && typeof value === 'object') {
    for (const [k, v] of Object.entries(value)) {
      if (!/^WP\d+$/.test(k)) out.push(k)
      keysOf(v, out)
    }
  }
  return out
}

/** Live processes whose environment names this feature. */
function agentsOf(feature) {
  const found = []
  for (const entry of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue
    try {
      const stat = fs.readFileSync(`/proc/${entry}/stat`, 'utf8')
      if (stat.slice(stat.lastIndexOf(')') + 2).startsWith('Z')) continue
      const env = fs.readFileSync(`/proc/${entry}/environ`, 'latin1').split('\0')
      if (env.includes(`KITTY_FEATURE=${feature}`)) found.push(Number(entry))
    } catch (_) {}
  }
  return found
}

test('a run resolves with the summary; events arrive in order and match history()', async () => {
  const repo = makeRepo('060-node', { WP01: [], WP02: ['WP01'], WP03: ['WP01'], WP04: ['WP02', 'WP03'] })
  const orch = new ko.Orchestrator(repo, config())
  const events = []
  const summary = await orch.run('060-node', { onEvent: (e) => events.push(e), graceMs: 300, retryBaseMs: 20 })
  assert.equal(summary.outcome, 'completed')
  assert.equal(summary.done, 4)
  assert.equal(events[0].type, 'run_started')
  assert.equal(events.at(-1).type, 'run_finished')
  for (const wp of ['WP01', 'WP02', 'WP03', 'WP04']) {
    const seen = events.filter((e) => e.type === 'lane_changed' && e.wp === wp).map((e) => e.toLane)
    const lanes = (await orch.history('060-node', wp)).map((h) => h.state.lane)
    const changes = lanes.slice(1).filter((l, i) => l !== lanes[i])
    assert.deepEqual(seen, changes)
    assert.deepEqual(changes, ['doing', 'for_review', 'done'])
  }
  // Finished WPs handed their worktrees on (recycle_worktrees): the summary says where each is.
  for (const wp of summary.wps) assert.equal(wp.worktree === null, wp.worktreeRecycledTo !== undefined, JSON.stringify(wp))
  assert.ok(summary.wps.some((w) => w.worktreeRecycledTo), JSON.stringify(summary.wps))
  // Every object Node sees has camelCase keys, at every depth.
  const history = await orch.history('060-node')
  const everything = [summary, events, history, await orch.status('060-node'), await ko.detectAgents(config())]
  const snakeKeys = keysOf(everything).filter((k) => k.includes('_'))
  assert.deepEqual([...new Set(snakeKeys)], [])
  assert.ok(keysOf(everything).includes('runId') && keysOf(everything).includes('attemptsTotal'))
  // History events have the shapes index.d.ts's WpEvent union says.
  const approved = history.find((h) => h.event.type === 'approved')
  const finished = history.find((h) => h.event.type === 'agent_finished')
  assert.equal(typeof approved.event.reviewer, 'string')
  assert.equal(typeof finished.event.durationMs, 'number')
  assert.equal(history[0].event.type, 'imported')
  const status = await orch.status('060-node')
  // Both read in batches of JSON text parsed in JS (the sync one waiting for git).
  assert.deepStrictEqual(orch.statusSync('060-node'), status)
  assert.equal(status.run.status, 'finished')
  assert.deepEqual(Object.fromEntries(Object.entries(status.wps).map(([k, v]) => [k, v.lane])), Object.fromEntries(summary.wps.map((w) => [w.id, w.lane])))
})

test('a status of more WPs than one batch, whose refs sort apart from their ids, reads whole and in id order', async () => {
  // WP01..WP54 and WP100: more than one batch of 50, and git lists WP100 before WP11.
  const ids = [...Array.from({ length: 54 }, (_, i) => `WP${String(i + 1).padStart(2, '0')}`), 'WP100']
  const dir = makeRepo('061-batches', Object.fromEntries(ids.map((id) => [id, []])))
  const orch = new ko.Orchestrator(dir, { ...config(), max_concurrent_wps: 8 })
  assert.equal((await orch.run('061-batches', { graceMs: 300 })).outcome, 'completed')
  git(dir, 'update-ref', 'refs/kitty/wp/061-batches/WP99', git(dir, 'rev-parse', 'HEAD').trim())
  const status = await orch.status('061-batches')
  assert.deepEqual(Object.keys(status), ['feature', 'run', 'wps', 'corrupt'])
  assert.deepEqual(Object.keys(status.wps), ids, 'WP id order')
  assert.deepStrictEqual(orch.statusSync('061-batches'), status)
  assert.equal(status.corrupt.length, 1)
  assert.match(status.corrupt[0].reference, /WP99$/)
  // Each WP as its own history's last state says (read and converted apart from the board).
  for (const id of ids) assert.deepStrictEqual(status.wps[id], orch.historySync('061-batches', id).at(-1).state, id)
  // Errors come through both paths with their codes.
  assert.throws(() => orch.statusSync('061-batchez'), (e) => e.code === 'feature_not_found')
  await assert.rejects(orch.status('061-batchez'), (e) => e.code === 'feature_not_found')
})

test('an AbortSignal stops every agent and rejects with its reason, as fetch does; run resumes to completion', async () => {
  const repo = makeRepo('061-abort', { WP01: [], WP02: [] })
  const controller = new AbortController()
  let started = 0
  let finished
  const running = new ko.Orchestrator(repo, config({ FAKE_MODE: 'sigterm_tree' })).run('061-abort', {
    signal: controller.signal,
    graceMs: 300,
    onEvent: (e) => {
      if (e.type === 'agent_started' && ++started === 2) controller.abort()
      if (e.type === 'run_finished') finished = e
    },
  })
  await assert.rejects(running, (err) => err instanceof DOMException && err.name === 'AbortError')
  assert.equal(finished.summary.outcome, 'aborted', 'the run itself ended as aborted, and says so')
  assert.deepEqual(agentsOf('061-abort'), [])
  // A signal aborted before the run: the same rule, with the reason given.
  const early = new AbortController()
  early.abort(new Error('changed my mind'))
  await assert.rejects(new ko.Orchestrator(repo, config()).run('061-abort', { signal: early.signal }), /changed my mind/)
  const resumed = await new ko.Orchestrator(repo, config()).run('061-abort', { graceMs: 300 })
  assert.equal(resumed.outcome, 'completed')
})

test('a script that runs a feature exits by itself', async () => {
  const repo = makeRepo('062-exit', { WP01: [] })
  const script = `
    const ko = require(${JSON.stringify(path.resolve(__dirname, '..', '..'))})
    new ko.Orchestrator(${JSON.stringify(repo)}, ${JSON.stringify(config())})
      .run('062-exit', { onEvent: () => {}, graceMs: 300 })
      .then((s) => console.log(s.outcome))
  `
  const child = spawn(process.execPath, ['-e', script], { stdio: ['ignore', 'pipe', 'inherit'] })
  let out = ''
  child.stdout.on('data', (d) => (out += d))
  const code = await new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill('SIGKILL')
      reject(new Error('the process did not exit by itself within 30 s'))
    }, 30000)
    child.on('exit', (c) => {
      clearTimeout(timer)
      resolve(c)
    })
  })
  assert.equal(code, 0)
  assert.equal(out.trim(), 'completed')
})

test('errors carry stable codes, sync and async', async () => {
  const repo = makeRepo('063-errors', { WP01: [] })
  assert.throws(() => new ko.Orchestrator(repo, { max_retires: 3 }), (e) => e.code === 'config_invalid' && e.message.includes('max_retires'))
  assert.throws(() => ko.loadFeature(path.join(repo, 'nope')), (e) => e.code === 'feature_invalid')
  const orch = new ko.Orchestrator(repo, config())
  await assert.rejects(orch.run('063-nope'), (e) => e instanceof Error && e.code === 'feature_not_found')
  await assert.rejects(
    new ko.Orchestrator(repo, { agents: { implementation: ['cursor'], review: ['cursor'] } }).run('063-errors'),
    (e) => e.code === 'no_agents',
  )
  await orch.run('063-errors', { graceMs: 300 })
  await assert.rejects(orch.retry('063-errors', 'WP01'), (e) => e.code === 'illegal_transition')
  await assert.rejects(orch.retry('063-errors', 'WP1'), (e) => e.code === 'wp_id_invalid')
  await assert.rejects(orch.retry('063-errors', 'WP07'), (e) => e.code === 'wp_not_found')
  await assert.rejects(orch.status('063-typo'), (e) => e.code === 'feature_not_found')
  await assert.rejects(orch.run('063-errors', { maxConcurrent: 0 }), (e) => e.code === 'config_invalid' && e.message.includes('`maxConcurrent`'))
  await assert.rejects(orch.run('063-errors', { maxConcurent: 2 }), (e) => e.code === 'config_invalid' && e.message.includes('`maxConcurent`') && e.message.includes('`maxConcurrent`') && !e.message.includes('max_concurent'))
  await assert.rejects(orch.run('063-errors', { graceMs: '300' }), (e) => e.code === 'config_invalid' && e.message.includes('graceMs'))
  await assert.rejects(orch.run('063-errors', { graceMs: -1 }), (e) => e.code === 'config_invalid')
  const outside = fs.mkdtempSync(path.join(os.tmpdir(), 'kitty-not-a-repo-'))
  assert.throws(() => new ko.Orchestrator(outside, config()), (e) => e.code === 'not_a_repository')
  await assert.rejects(orch.run('063-errors', { implAgents: ['nope'] }), (e) => e.code === 'unknown_agent')
  const blob = git(repo, 'hash-object', '-w', path.join(repo, 'kitty-specs', '063-errors', 'tasks', 'WP01-work.md')).trim()
  git(repo, 'update-ref', 'refs/kitty/wp/063-errors/WP01', blob)
  // One corrupt ref does not hide the board: it is named, with why.
  const board = await orch.status('063-errors')
  assert.deepEqual(Object.keys(board.wps), [])
  assert.equal(board.corrupt.length, 1)
  assert.equal(board.corrupt[0].reference, 'refs/kitty/wp/063-errors/WP01')
  assert.match(board.corrupt[0].why, /not an event commit/)
  const agents = await ko.detectAgents(config())
  assert.ok(agents.some((a) => a.id === 'impl' && a.path === FAKE && a.available && a.whyNot === null))
  const codex = agents.find((a) => a.id === 'codex').sandbox
  assert.equal(codex.mode, 'best_effort')
  assert.equal(typeof codex.confined, 'boolean')
  assert.ok(codex.implementationWritable.includes('<worktree>'))
  assert.ok(!codex.reviewWritable.includes('<worktree>'))
  const remote = await ko.detectAgents({ agents: { 'openai-api': { base_url: 'https://api.example.com/v1', api_key_env: 'KITTY_NO_SUCH_KEY' } } })
  const api = remote.find((a) => a.id === 'openai-api')
  assert.equal(api.available, false)
  assert.match(api.whyNot, /KITTY_NO_SUCH_KEY is not set/)
})

test('the module loads in a worker thread', async () => {
  const { Worker } = require('node:worker_threads')
  const worker = new Worker(
    `const { parentPort } = require('node:worker_threads'); const ko = require(${JSON.stringify(path.resolve(__dirname, '..', '..'))}); parentPort.postMessage(ko.version())`,
    { eval: true },
  )
  const version = await new Promise((resolve, reject) => {
    worker.on('message', resolve)
    worker.on('error', reject)
  })
  assert.match(version, /^\d+\.\d+\.\d+/)
  await worker.terminate()
})

test('a second run of the same feature is refused with run_locked', async () => {
  const repo = makeRepo('064-locked', { WP01: [] })
  const controller = new AbortController()
  let second
  const first = new ko.Orchestrator(repo, config({ FAKE_MODE: 'sigterm_tree' })).run('064-locked', {
    signal: controller.signal,
    graceMs: 300,
    onEvent: (e) => {
      if (e.type === 'agent_started') {
        second = new ko.Orchestrator(repo, config()).run('064-locked')
        second.catch(() => {}).finally(() => controller.abort())
      }
    },
  })
  await assert.rejects(first, (e) => e.name === 'AbortError')
  await assert.rejects(second, (e) => e instanceof ko.KittyError && e.code === 'run_locked')
  assert.deepEqual(agentsOf('064-locked'), [])
})

test('a panic in a native method is an Error with code internal, never an abort or a pending Promise', async () => {
  const repo = makeRepo('065-panic', { WP01: [] })
  const orch = new ko.Orchestrator(repo, config())
  process.env.KITTY_DEBUG_PANIC_NATIVE = 'native'
  try {
    assert.throws(() => orch.statusSync('065-panic'), (e) => e.code === 'internal' && /injected/.test(e.message))
    await assert.rejects(orch.status('065-panic'), (e) => e.code === 'internal')
  } finally {
    delete process.env.KITTY_DEBUG_PANIC_NATIVE
  }
  process.env.KITTY_DEBUG_PANIC_NATIVE = 'run'
  try {
    await assert.rejects(orch.run('065-panic', { graceMs: 300 }), (e) => e.code === 'internal' && /the run panicked/.test(e.message))
  } finally {
    delete process.env.KITTY_DEBUG_PANIC_NATIVE
  }
  // The addon is still usable afterwards.
  assert.equal((await orch.run('065-panic', { graceMs: 300 })).outcome, 'completed')
})

test('status, history, retry, release, abort and detectAgents never block the event loop', async () => {
  const repo = makeRepo('066-async', { WP01: [] })
  // An agent CLI whose `--version` takes a second to answer.
  const slow = path.join(repo, 'slow-agent')
  fs.writeFileSync(slow, '#!/bin/sh\nsleep 1\necho slow-agent 1.0\n', { mode: 0o755 })
  const cfg = config()
  cfg.agents.slow = { command: [slow] }
  let ticks = 0
  const timer = setInterval(() => ticks++, 20)
  try {
    const agents = await ko.detectAgents(cfg)
    assert.equal(agents.find((a) => a.id === 'slow').version, 'slow-agent 1.0')
  } finally {
    clearInterval(timer)
  }
  assert.ok(ticks >= 20, `the event loop ran ${ticks} timer ticks while agents answered`)
  const orch = new ko.Orchestrator(repo, config())
  await orch.run('066-async', { graceMs: 300 })
  const [status, history] = await Promise.all([orch.status('066-async'), orch.history('066-async', 'WP01')])
  assert.equal(status.wps.WP01.lane, 'done')
  assert.equal(history.at(-1).state.lane, 'done')
  assert.equal(await orch.abort('066-async'), false)
  await assert.rejects(orch.release('066-async', 'WP01'), (e) => e.code === 'illegal_transition')
  await assert.rejects(orch.retry('066-async', 'WP01'), (e) => e.code === 'illegal_transition')
})

test('merge lands the done WPs with camelCase reports; conflicts reject with merge_conflict', async () => {
  const repo = makeRepo('070-node-land', { WP01: [], WP02: ['WP01'] })
  const orch = new ko.Orchestrator(repo, config())
  assert.equal((await orch.run('070-node-land', { graceMs: 300, retryBaseMs: 20 })).outcome, 'completed')
  const events = []
  const dry = await orch.merge('070-node-land', { dryRun: true })
  assert.equal(dry.outcome, 'dry_run')
  const report = await orch.merge('070-node-land', { onEvent: (e) => events.push(e) })
  assert.equal(report.outcome, 'merged')
  assert.deepEqual(report.steps.map((s) => [s.wp, s.action]), [['WP01', 'merge'], ['WP02', 'merge']])
  assert.equal(report.commit, git(repo, 'rev-parse', 'main').trim())
  assert.deepEqual(events.filter((e) => e.type === 'merged').map((e) => e.wps), [['WP01', 'WP02']])
  const status = await orch.status('070-node-land')
  assert.equal(status.wps.WP02.merged.into, 'main')
  const snakeKeys = keysOf([report, events, status]).filter((k) => k.includes('_'))
  assert.deepEqual([...new Set(snakeKeys)], [])
  assert.equal((await orch.merge('070-node-land')).outcome, 'nothing_to_merge')
  await assert.rejects(orch.merge('070-node-land', { strategy: 'rebase' }), (err) => err.code === 'config_invalid' && /strategy/.test(err.message))
  // spec-kitty 4.0's origin check, passed through for missions (a feature that is none ignores it).
  assert.equal((await orch.merge('070-node-land', { originCheck: 'off' })).outcome, 'nothing_to_merge')
  await assert.rejects(orch.merge('070-node-land', { originCheck: 'never' }), (err) => err.code === 'config_invalid' && /originCheck/.test(err.message))

  const clash = makeRepo('071-node-clash', { WP01: [], WP02: [] })
  const both = new ko.Orchestrator(clash, config({ FAKE_EXTRA_FILES: 'shared.txt' }))
  await both.run('071-node-clash', { graceMs: 300, retryBaseMs: 20 })
  await assert.rejects(both.merge('071-node-clash'), (err) => err.code === 'merge_conflict' && /WP02 with WP01 in shared\.txt/.test(err.message))

  const remote = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'kitty-node-remote-')), 'remote.git')
  git(repo, 'init', '-q', '--bare', '-b', 'main', remote)
  git(repo, 'remote', 'add', 'origin', remote)
  const pushed = await orch.push('070-node-land', { branches: true })
  assert.ok(pushed.refs.some((r) => r.reference === 'refs/heads/main' && r.status === 'created'))
  assert.equal(git(remote, 'rev-parse', 'main').trim(), git(repo, 'rev-parse', 'main').trim())
  await assert.rejects(orch.push('070-node-land', { remote: 'nowhere' }), (err) => err.code === 'remote_failed' && /nowhere/.test(err.message))
})

test('pullRequest opens one pull request with the report, then updates it', async () => {
  const http = require('node:http')
  const repo = makeRepo('072-node-pr', { WP01: [] })
  const remote = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'kitty-node-gh-')), 'octo', 'hello.git')
  fs.mkdirSync(remote, { recursive: true })
  git(remote, 'init', '-q', '--bare', '-b', 'main')
  git(repo, 'remote', 'add', 'origin', remote)
  const orch = new ko.Orchestrator(repo, config())
  await orch.run('072-node-pr', { graceMs: 300, retryBaseMs: 20 })
  assert.equal((await orch.merge('072-node-pr', { into: 'feature/072' })).outcome, 'merged')
  const pulls = []
  const server = http.createServer((req, res) => {
    let text = ''
    req.on('data', (c) => (text += c))
    req.on('end', () => {
      const body = text ? JSON.parse(text) : null
      let answer = [200, null]
      if (req.headers.authorization !== 'Bearer node-token-12345') answer = [401, { message: 'Bad credentials' }]
      else if (req.method === 'GET') answer = [200, pulls.filter((p) => req.url.includes(`head=octo%3A${p.head.replace('/', '%2F')}`))]
      else if (req.method === 'POST') {
        pulls.push({ number: pulls.length + 1, html_url: `http://x/pull/${pulls.length + 1}`, ...body })
        answer = [201, pulls.at(-1)]
      } else if (req.method === 'PATCH') {
        Object.assign(pulls[Number(req.url.split('/').at(-1)) - 1], body)
        answer = [200, pulls[0]]
      }
      res.writeHead(answer[0], { 'Content-Type': 'application/json' })
      res.end(JSON.stringify(answer[1]))
    })
  })
  await new Promise((r) => server.listen(0, '127.0.0.1', r))
  const saved = { ...process.env }
  const bin = fs.mkdtempSync(path.join(os.tmpdir(), 'kitty-node-bin-'))
  fs.symlinkSync(execFileSync('sh', ['-c', 'command -v git'], { encoding: 'utf8' }).trim(), path.join(bin, 'git'))
  Object.assign(process.env, { PATH: bin, GITHUB_API_URL: `http://127.0.0.1:${server.address().port}`, GITHUB_TOKEN: 'node-token-12345' })
  delete process.env.GH_TOKEN
  try {
    const first = await orch.pullRequest('072-node-pr')
    const second = await orch.pullRequest('072-node-pr')
    assert.deepEqual([first.pullRequest.number, first.created, second.created, first.repository], [1, true, false, 'octo/hello'])
    assert.equal(pulls.length, 1)
    assert.match(pulls[0].body, /# 072-node-pr: complete/)
    assert.equal((await orch.report('072-node-pr')).outcome, 'complete')
    delete process.env.GITHUB_TOKEN
    await assert.rejects(orch.pullRequest('072-node-pr'), (err) => err.code === 'pr_auth_missing' && /GITHUB_TOKEN/.test(err.message))
  } finally {
    for (const key of ['PATH', 'GITHUB_API_URL', 'GITHUB_TOKEN', 'GH_TOKEN']) {
      if (saved[key] === undefined) delete process.env[key]
      else process.env[key] = saved[key]
    }
    server.close()
  }
})

test('two clones share a feature through a remote; statusRemote and abortRemote are camelCase', async () => {
  const seed = makeRepo('070-shared', { WP01: [], WP02: ['WP01'], WP03: ['WP01'], WP04: ['WP02', 'WP03'] })
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'kitty-node-shared-'))
  const bare = path.join(tmp, 'remote.git')
  git(tmp, 'clone', '-q', '--bare', seed, bare)
  const machines = ['laptop', 'ci-box'].map((host) => {
    const dir = path.join(tmp, host)
    git(tmp, 'clone', '-q', bare, dir)
    git(dir, 'config', 'user.name', host)
    git(dir, 'config', 'user.email', `${host}@example.com`)
    const cfg = { ...config(), host_id: host, lease_seconds: 5, lease_renew_seconds: 1, sync_interval_seconds: 1 }
    return new ko.Orchestrator(dir, cfg)
  })
  const summaries = await Promise.all(machines.map((m) => m.run('070-shared', { remote: 'origin' })))
  for (const summary of summaries) assert.equal(summary.done, 4)
  const status = await machines[0].statusRemote('070-shared', 'origin')
  assert.equal(status.remote, 'origin')
  assert.deepEqual(Object.keys(status.wps).sort(), ['WP01', 'WP02', 'WP03', 'WP04'])
  for (const state of Object.values(status.wps)) assert.equal(state.lane, 'done')
  assert.deepEqual(status.hosts.map((h) => h.host).sort(), ['ci-box', 'laptop'])
  assert.ok(status.hosts.every((h) => typeof h.ageSeconds === 'number' && typeof h.heartbeatAt === 'string'))
  assert.equal(status.abortRequested, null)
  const request = await machines[1].abortRemote('070-shared', 'origin')
  assert.equal(request.remote, 'origin')
  assert.equal(request.localRun, false)
  assert.match((await machines[0].statusRemote('070-shared', 'origin')).abortRequested, /requested on ci-box/)
  await assert.rejects(machines[0].statusRemote('070-shared'), (err) => err.code === 'config_invalid' && /sync_remote/.test(err.message))
})

test('graph() draws the feature and watch() yields it again each time the refs move', async () => {
  const repo = makeRepo('075-node-graph', { WP01: [], WP02: ['WP01'], WP03: ['WP01', 'WP02'] })
  const orch = new ko.Orchestrator(repo, config())
  const before = await orch.graph('075-node-graph')
  assert.deepEqual(before.nodes.map((n) => [n.id, n.lane, n.class, n.layer]), [
    ['WP01', 'planned', 'planned', 0],
    ['WP02', 'planned', 'planned', 1],
    ['WP03', 'planned', 'planned', 2],
  ])
  assert.deepEqual(before.edges, [{ from: 'WP01', to: 'WP02' }, { from: 'WP01', to: 'WP03' }, { from: 'WP02', to: 'WP03' }])
  assert.deepEqual(before.lanes.find((l) => l.lane === 'planned'), { lane: 'planned', count: 3 })
  assert.match(before.fingerprint, /^[0-9a-f]{40}$/)

  const abort = new AbortController()
  const seen = []
  const watching = (async () => {
    for await (const graph of orch.watch('075-node-graph', { pollMs: 20, signal: abort.signal })) {
      seen.push(graph)
      if (graph.nodes.every((n) => n.lane === 'done')) abort.abort()
    }
  })()
  const summary = await orch.run('075-node-graph', { graceMs: 300, retryBaseMs: 20 })
  assert.equal(summary.outcome, 'completed')
  await Promise.race([watching, new Promise((_, reject) => setTimeout(() => reject(new Error('watch() never saw the end')), 30000))])
  assert.ok(seen.length >= 3, `${seen.length} graphs`)
  assert.equal(seen[0].nodes[0].lane, 'planned')
  assert.ok(seen.some((g) => g.nodes.some((n) => n.class === 'doing')), 'a WP seen in progress')
  assert.equal(new Set(seen.map((g) => g.fingerprint)).size, seen.length, 'each graph yielded once per change')
  const after = await orch.graph('075-node-graph')
  assert.deepEqual(after.lanes.find((l) => l.lane === 'done'), { lane: 'done', count: 3 })
  await assert.rejects(orch.graph('076-missing'), (err) => err.code === 'feature_not_found')
  // The editor example draws it.
  const { draw } = require('../../examples/node/editor_graph')
  assert.equal(draw(after), 'layer 1: WP01 [done]\nlayer 2: WP02 [done]\nlayer 3: WP03 [done]\n3 done')
})

test('an agent driven over ACP reports typed activity: tool calls, plan, permissions, usage', async () => {
  const repo = makeRepo('067-acp', { WP01: [] })
  const state = fs.mkdtempSync(path.join(os.tmpdir(), 'kitty-acp-state-'))
  const agent = { command: [path.join(FIXTURES, 'agents', 'acp-agent')], driver: 'acp', writable: [state], env: { ACP_STATE_DIR: state } }
  const orch = new ko.Orchestrator(repo, { agents: { implementation: ['acp-impl'], review: ['acp-rev'], 'acp-impl': agent, 'acp-rev': agent } })
  const events = []
  const summary = await orch.run('067-acp', { onEvent: (e) => events.push(e), graceMs: 300 })
  assert.equal(summary.outcome, 'completed')
  const activities = events.filter((e) => e.type === 'agent_activity').map((e) => e.activity)
  const writes = activities.filter((a) => a.type === 'tool_call' && a.title === 'Write wp01.txt')
  assert.deepEqual(writes.map((w) => w.status), ['pending', 'completed'])
  assert.deepEqual(writes.at(-1).paths, ['wp01.txt'])
  assert.equal(activities.find((a) => a.type === 'plan').steps[0].content, 'write wp01.txt')
  assert.ok(activities.some((a) => a.type === 'permission' && a.allowed && a.tool === 'edit'))
  const usage = activities.filter((a) => a.type === 'usage').at(-1)
  assert.equal(usage.costUsd, 0.0042)
  assert.equal(typeof usage.usedTokens, 'number')
  assert.equal(summary.wps[0].costUsd, 0.0042)
  const agents = await ko.detectAgents({ agents: { gemini: { driver: 'acp' } } })
  const gemini = agents.find((a) => a.id === 'gemini')
  assert.equal(gemini.driver, 'acp')
  assert.deepEqual(gemini.proven.map((p) => p.driver), ['cli', 'acp'])
  assert.ok(gemini.proven.every((p) => p.version && p.notProven === null), JSON.stringify(gemini.proven))
})
