// What an editor extension needs to draw a feature and keep it current, as it could be lifted
// into a VS Code extension: `graph()` for the first picture, `watch()` for every change after
// (a run in this process, in a terminal, or another machine's after a fetch).
//
//   node examples/node/editor_graph.js <repository> <feature> [seconds]
//
// It prints the graph as text each time it changes; an extension would hand `graph` to its
// webview instead (nodes with lane and layer, edges, counts per lane).

const { Orchestrator } = require('../../lib')

/** One line per layer: `WP01 [done]  WP02 [doing]`, then the lane counts. */
function draw(graph) {
  const layers = []
  for (const node of graph.nodes) {
    ;(layers[node.layer] ??= []).push(`${node.id} [${node.lane}]`)
  }
  const counts = graph.lanes.filter((l) => l.count > 0).map((l) => `${l.count} ${l.lane}`)
  return [...layers.map((wps, i) => `layer ${i + 1}: ${wps.join('  ')}`), counts.join(', ')].join('\n')
}

/** Follows `feature` until `signal` aborts, calling `show(graph, text)` on every change. */
async function follow(repo, feature, show, signal) {
  const orch = new Orchestrator(repo)
  for await (const graph of orch.watch(feature, { signal })) {
    show(graph, draw(graph))
  }
}

module.exports = { draw, follow }

if (require.main === module) {
  const [repo, feature, seconds = '5'] = process.argv.slice(2)
  if (!repo || !feature) {
    console.error('usage: node examples/node/editor_graph.js <repository> <feature> [seconds]')
    process.exit(2)
  }
  follow(repo, feature, (graph, text) => console.log(`--- ${graph.feature} (${graph.fingerprint.slice(0, 8)})\n${text}`),
    AbortSignal.timeout(Number(seconds) * 1000)).catch((err) => {
    if (err.name !== 'AbortError') {
      console.error(`${err.code ?? 'error'}: ${err.message}`)
      process.exit(1)
    }
  })
}
