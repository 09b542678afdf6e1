'use strict'
// loadFeature() from Node: the four real samples and the broken-feature corpus.
const test = require('node:test')
const assert = require('node:assert/strict')
const path = require('node:path')
const ko = require('../..')
const { sampleDir, brokenCases } = require('./helpers')

const lanes = (feature) => Object.fromEntries(feature.workPackages.map((wp) => [wp.id, wp.initialLane]))
const wp = (feature, id) => feature.workPackages.find((w) => w.id === id)

test('version is exposed', () => {
  assert.match(ko.version(), /^\d+\.\d+\.\d+/)
})

test('sample 01: flat layout, mixed lanes, fan-in', () => {
  const f = ko.loadFeature(sampleDir('01_frontmatter-lanes_mixed__020_at_370f288e5'))
  assert.equal(f.slug, '020-autonomous-multi-agent-orchestrator')
  assert.equal(f.layout, 'flat')
  assert.equal(f.workPackages.length, 9)
  assert.deepEqual(lanes(f), {
    WP01: 'done', WP02: 'done', WP03: 'done', WP04: 'done', WP05: 'done', WP06: 'done',
    WP07: 'for_review', WP08: 'doing', WP09: 'planned',
  })
  assert.deepEqual(wp(f, 'WP06').dependencies, ['WP02', 'WP03', 'WP04'])
  assert.deepEqual(wp(f, 'WP08').dependencies, ['WP05', 'WP06', 'WP07'])
  const wp01 = wp(f, 'WP01')
  assert.equal(wp01.title, 'Foundation & Config')
  assert.deepEqual(wp01.subtasks, ['T001', 'T002', 'T003', 'T004', 'T005'])
  assert.equal(wp01.extra.agent, 'claude-opus')
  assert.equal(wp01.extra.history[0].lane, 'planned')
  assert.ok(wp01.prompt.startsWith('# Work Package Prompt: WP01'))
  const order = f.topologicalOrder
  for (const dep of ['WP02', 'WP03', 'WP04']) assert.ok(order.indexOf('WP06') > order.indexOf(dep))
  assert.equal(f.meta.friendly_name, 'Autonomous Multi-Agent Orchestrator')
})

test('sample 03: twelve WPs, three roots', () => {
  const f = ko.loadFeature(sampleDir('03_frontmatter-lanes_all-done__021_at_6062db7d'))
  assert.equal(f.workPackages.length, 12)
  assert.deepEqual(f.workPackages.filter((w) => w.dependencies.length === 0).map((w) => w.id), ['WP01', 'WP03', 'WP12'])
  assert.ok(f.workPackages.every((w) => w.initialLane === 'done'))
})

test('sample 05: legacy lane directories', () => {
  const f = ko.loadFeature(sampleDir('05_legacy-lane-subdirs__007_at_63a55999d'))
  assert.equal(f.layout, 'lane_directories')
  assert.deepEqual(lanes(f), {
    WP01: 'for_review', WP02: 'for_review', WP03: 'for_review', WP04: 'for_review', WP05: 'for_review', WP06: 'planned',
  })
})

test('sample 06: lanes from the event log', () => {
  const f = ko.loadFeature(sampleDir('06_event-log-3x__020_at_HEAD'))
  assert.equal(f.layout, 'event_log')
  assert.equal(f.workPackages.length, 9)
  assert.ok(f.workPackages.every((w) => w.initialLane === 'done'))
  assert.equal(f.targetBranch, 'main')
})

for (const { name, dir, expected } of brokenCases()) {
  test(`broken feature ${name} throws feature_invalid`, () => {
    assert.throws(
      () => ko.loadFeature(dir),
      (err) => {
        assert.ok(err instanceof Error)
        assert.equal(err.code, 'feature_invalid')
        for (const line of expected) assert.ok(err.message.includes(line), `${line} not in ${err.message}`)
        return true
      },
    )
  })
}

test('broken corpus has at least 15 cases', () => {
  assert.ok(brokenCases().length >= 15)
})

test('a Kiro spec loads with its task ids, lanes and requirements', () => {
  const f = ko.loadFeature(path.join(__dirname, '..', 'fixtures', 'kiro', 'user-auth'))
  assert.equal(f.layout, 'kiro')
  assert.equal(f.slug, 'user-auth')
  assert.deepEqual(f.workPackages.map((w) => w.id), ['WP0100', 'WP0201', 'WP0202', 'WP0301', 'WP0302', 'WP0303', 'WP0401', 'WP0402', 'WP0500', 'WP0600'])
  assert.equal(lanes(f).WP0100, 'done')
  assert.equal(lanes(f).WP0202, 'planned')
  assert.deepEqual(wp(f, 'WP0301').dependencies, ['WP0202'])
  assert.match(wp(f, 'WP0303').prompt, /> ### Requirement 2/)
})

test('a workspace is cloned from a file:// URL, reused, listed and removed with a backup', async () => {
  const { execFileSync } = require('node:child_process')
  const fs = require('node:fs')
  const os = require('node:os')
  const path = require('node:path')
  const ko = require('../../lib/index.js')
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'kitty-ws-'))
  const git = (cwd, ...args) => execFileSync('git', args, { cwd, encoding: 'utf8' })
  const src = path.join(tmp, 'src')
  fs.mkdirSync(src)
  git(src, 'init', '-q', '-b', 'main')
  git(src, 'config', 'user.email', 't@example.com')
  git(src, 'config', 'user.name', 't')
  fs.writeFileSync(path.join(src, 'PLAN.md'), '- [ ] One\n- [ ]* Two\n')
  git(src, 'add', '-A')
  git(src, 'commit', '-qm', 'plan')
  git(tmp, 'clone', '-q', '--bare', src, path.join(tmp, 'planner.git'))
  const url = `file://${path.join(tmp, 'planner.git')}`
  const workspaceDir = path.join(tmp, 'ws')

  const cloned = await ko.cloneWorkspace(url, { workspaceDir })
  assert.deepStrictEqual([cloned.name, cloned.reused, cloned.branch], ['planner', false, 'main'])
  const plan = path.join(cloned.path, 'PLAN.md')
  assert.deepStrictEqual(ko.loadFeature(plan).workPackages.map((wp) => wp.id), ['WP0100'])
  assert.deepStrictEqual(ko.loadFeature(plan, { includeOptional: true }).workPackages.map((wp) => wp.id), ['WP0100', 'WP0200'])
  assert.throws(() => ko.loadFeature(plan, { format: 'kiro' }), (err) => err.code === 'feature_invalid' && /format `kiro` reads a directory/.test(err.message))
  const orch = new ko.Orchestrator(cloned.path, undefined, { includeOptional: true })
  assert.ok(orch)
  assert.strictEqual((await ko.cloneWorkspace(url, { workspaceDir })).reused, true)

  const [listed] = await ko.listWorkspaces(workspaceDir)
  assert.deepStrictEqual([listed.name, listed.origin, listed.branch], ['planner', url, 'main'])

  fs.writeFileSync(path.join(cloned.path, 'scratch.txt'), 'wip\n')
  await assert.rejects(ko.removeWorkspace('planner', { workspaceDir }), (err) => err.code === 'worktree_dirty' && /scratch\.txt/.test(err.message))
  const removed = await ko.removeWorkspace('planner', { workspaceDir, force: true })
  assert.ok(fs.existsSync(removed.backup) && !fs.existsSync(cloned.path))
  assert.deepStrictEqual(removed.worktreesRemoved, [])

  await assert.rejects(ko.cloneWorkspace(`file://${tmp}/none.git`, { workspaceDir: path.join(tmp, 'nothing') }), (err) => err.code === 'remote_failed' && err.message.includes('none.git'))
  assert.ok(!fs.existsSync(path.join(tmp, 'nothing')))
  fs.rmSync(tmp, { recursive: true, force: true })
})
