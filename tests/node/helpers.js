'use strict'
// Paths into the repository's shared test fixtures.
const fs = require('node:fs')
const path = require('node:path')

const FIXTURES = path.join(__dirname, '..', 'fixtures')

/** The single feature directory of a spec-kitty sample. */
function sampleDir(folder) {
  const specs = path.join(FIXTURES, 'spec-kitty', folder, 'kitty-specs')
  const [name] = fs.readdirSync(specs).filter((n) => fs.statSync(path.join(specs, n)).isDirectory())
  return path.join(specs, name)
}

/** [{ name, dir, expected }] for the broken-feature corpus. */
function brokenCases() {
  const root = path.join(FIXTURES, 'broken')
  return fs
    .readdirSync(root)
    .sort()
    .filter((name) => fs.statSync(path.join(root, name)).isDirectory())
    .map((name) => {
      const caseDir = path.join(root, name)
      const expected = fs.readFileSync(path.join(caseDir, 'expected.txt'), 'utf8').split('\n').filter(Boolean)
      const [feature] = fs.readdirSync(caseDir).filter((n) => n !== 'expected.txt')
      return { name, dir: path.join(caseDir, feature), expected }
    })
}

module.exports = { FIXTURES, sampleDir, brokenCases }
