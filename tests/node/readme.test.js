'use strict'
// The Node guide's example (docs/node.md) is a test: its TypeScript block is compiled with `tsc --strict`
// against the package's typings, as a user's editor would check it.
const { test } = require('node:test')
const assert = require('node:assert/strict')
const fs = require('node:fs')
const os = require('node:os')
const path = require('node:path')
const { execFileSync } = require('node:child_process')

const root = path.join(__dirname, '..', '..')

test("the Node guide's example compiles under tsc --strict", () => {
  const readme = fs.readFileSync(path.join(root, 'docs', 'node.md'), 'utf8')
  const section = readme.split('\n## Node\n')[1].split('\n## ')[0]
  const blocks = [...section.matchAll(/```ts\n([\s\S]*?)```/g)].map((m) => m[1])
  assert.ok(blocks.length >= 1, 'the Node section has a ts block')
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'kitty-readme-'))
  const lib = path.join(root, 'lib').split(path.sep).join('/')
  blocks.forEach((code, i) => {
    // The package by its path here (it is not installed under its name in this checkout).
    const source = code.replace(/from 'kitty-orchestrator'/g, `from '${lib}/index.js'`)
    fs.writeFileSync(path.join(dir, `example-${i}.mts`), `${source}\nexport {}\n`)
  })
  const files = blocks.map((_, i) => path.join(dir, `example-${i}.mts`))
  const args = ['--no-install', 'tsc', '--noEmit', '--strict', '--target', 'es2022', '--lib', 'es2022,dom', '--types', '', '--module', 'nodenext', '--moduleResolution', 'nodenext', ...files]
  try {
    execFileSync('npx', args, { cwd: root, stdio: 'pipe' })
  } catch (err) {
    assert.fail(`tsc --strict refused the Node guide's example:\n${err.stdout}${err.stderr}`)
  } finally {
    fs.rmSync(dir, { recursive: true, force: true })
  }
})
