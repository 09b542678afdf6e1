'use strict'
// kitty-orchestrator for Node: a thin, typed layer over the native addon (native.js, generated
// by napi-rs). Promises, an AbortSignal, plain objects with camelCase keys (the same data as
// Rust, Python and the CLI's `--json`, whose keys are snake_case), and Errors carrying the
// stable `code` shared with the CLI and Python.

const native = require('./native.js')

/**
 * Every error this package throws or rejects with (but an abort by your own AbortSignal, which
 * rejects with the signal's reason, as `fetch` does): `instanceof KittyError` tells them apart,
 * `code` is the stable code shared with the CLI and Python.
 */
class KittyError extends Error {
  constructor(code, message) {
    super(message)
    this.name = 'KittyError'
    this.code = code
  }
}

/** Turns a failure from the addon into a KittyError with `code`. */
function kittyError(code, message) {
  return new KittyError(code, message)
}

/** Calls a synchronous native function, rethrowing its error with the same code. */
function call(fn) {
  try {
    return fn()
  } catch (err) {
    if (err && typeof err.code === 'string') throw kittyError(err.code, err.message)
    throw err
  }
}

/**
 * Starts a native operation that reports `{ ok, value }` or `{ ok: false, code, message }` to a
 * callback on the JS thread; returns a Promise of `value`. The work happens off the JS thread,
 * so the event loop never waits for git or for agents.
 */
function settle(start) {
  return new Promise((resolve, reject) => {
    const done = (result) => {
      if (result.ok) resolve(result.value)
      else reject(kittyError(result.code, result.message))
    }
    try {
      start(done)
    } catch (err) {
      reject(err && typeof err.code === 'string' ? kittyError(err.code, err.message) : err)
    }
  })
}

/**
 * A status from its head (`{ head: JSON text with empty wps, order }`) and the WPs read in
 * batches: in WP id order, like the CLI's `--json` (`order` says it when the refs came in
 * another).
 */
function joinStatus({ head, order }, wps) {
  const status = JSON.parse(head)
  status.wps = order ? Object.fromEntries(order.map((id) => [id, wps[id]])) : wps
  return status
}

class Orchestrator {
  /**
   * @param {string} repo the git repository
   * @param {string|object} [config] a path to an orchestrator.toml, an object with its keys, or
   *   nothing for `<repo>/.kittify/orchestrator.toml`
   * @param {{format?: string, includeOptional?: boolean}} [options] `format` ('spec-kitty',
   *   'kiro', 'task-list') reads features with that reader instead of by their path's shape;
   *   `includeOptional` loads Kiro's optional tasks too
   */
  constructor(repo, config, options = {}) {
    const object = config && typeof config === 'object' ? config : undefined
    const path = typeof config === 'string' ? config : undefined
    const { format, includeOptional } = options
    this._native = call(() => new native.NativeOrchestrator(repo, object, path, format, includeOptional))
  }

  /**
   * Runs (or resumes) a feature until nothing more can start.
   * @returns {Promise<object>} the run summary
   */
  run(feature, options = {}) {
    // Everything but the two callbacks goes to the engine, which refuses unknown keys.
    const { onEvent, signal, ...opts } = options
    for (const key of Object.keys(opts)) if (opts[key] === undefined) delete opts[key]
    return new Promise((resolve, reject) => {
      // The platform's rule (fetch, timers/promises): a Promise whose signal aborts — before the
      // run starts or while it runs — rejects with the signal's reason (an AbortError unless
      // you gave abort() another); the run it stopped is in git (`status`), resumable.
      if (signal && signal.aborted) {
        reject(signal.reason)
        return
      }
      let onAbort
      // The abort listener is removed when the run ends, so nothing outlives it.
      const done = (result) => {
        if (signal && onAbort) signal.removeEventListener('abort', onAbort)
        if (signal && signal.aborted) reject(signal.reason)
        else if (result.ok) resolve(result.summary)
        else reject(kittyError(result.code, result.message))
      }
      const events = onEvent
        ? (event) => {
            try {
              onEvent(event)
            } catch (err) {
              // A failing callback must not stop agents half-way: report it and go on.
              process.emitWarning(`kitty-orchestrator onEvent threw: ${err && err.stack ? err.stack : err}`)
            }
          }
        : undefined
      try {
        this._native.run(feature, opts, events, done)
      } catch (err) {
        reject(err && typeof err.code === 'string' ? kittyError(err.code, err.message) : err)
        return
      }
      if (signal) {
        onAbort = () => {
          try {
            this._native.abort(feature)
          } catch (_) {
            // the run may have just ended
          }
        }
        signal.addEventListener('abort', onAbort, { once: true })
      }
    })
  }

  /**
   * Lands the done WPs of a feature on its target branch (or `into`) in dependency order.
   * @returns {Promise<object>} the merge report
   */
  merge(feature, options = {}) {
    const { onEvent, ...opts } = options
    for (const key of Object.keys(opts)) if (opts[key] === undefined) delete opts[key]
    const events = onEvent
      ? (event) => {
          try {
            onEvent(event)
          } catch (err) {
            process.emitWarning(`kitty-orchestrator onEvent threw: ${err && err.stack ? err.stack : err}`)
          }
        }
      : undefined
    return new Promise((resolve, reject) => {
      const done = (result) => {
        if (result.ok) resolve(result.report)
        else reject(kittyError(result.code, result.message))
      }
      try {
        this._native.merge(feature, opts, events, done)
      } catch (err) {
        reject(err && typeof err.code === 'string' ? kittyError(err.code, err.message) : err)
      }
    })
  }

  /**
   * Pushes what landed (the landed branch or `branch`, WP branches with `branches`, the
   * feature's refs/kitty/*) to `remote`, each ref with its expected old value.
   * @returns {Promise<object>} the push report
   */
  push(feature, options = {}) {
    const opts = { ...options }
    for (const key of Object.keys(opts)) if (opts[key] === undefined) delete opts[key]
    return new Promise((resolve, reject) => {
      const done = (result) => {
        if (result.ok) resolve(result.report)
        else reject(kittyError(result.code, result.message))
      }
      try {
        this._native.push(feature, opts, done)
      } catch (err) {
        reject(err && typeof err.code === 'string' ? kittyError(err.code, err.message) : err)
      }
    })
  }

  /**
   * Pushes the landed branch and opens (or updates) its pull request, the report as body.
   * @returns {Promise<object>} `{ pullRequest: { number, url }, created, repository, via, head, base, pushed }`
   */
  pullRequest(feature, options = {}) {
    const opts = { ...options }
    for (const key of Object.keys(opts)) if (opts[key] === undefined) delete opts[key]
    return new Promise((resolve, reject) => {
      const done = (result) => {
        if (result.ok) resolve(result.report)
        else reject(kittyError(result.code, result.message))
      }
      try {
        this._native.pullRequest(feature, opts, done)
      } catch (err) {
        reject(err && typeof err.code === 'string' ? kittyError(err.code, err.message) : err)
      }
    })
  }

  /**
   * The board of a shared feature as `remote` (default: `sync_remote`) has it, with each
   * machine's heartbeat (`hosts`) and the last abort requested there.
   * @returns {Promise<object>} `{ remote, feature, wps, corrupt, hosts, abortRequested }`
   */
  statusRemote(feature, remote) {
    return this._settledReport((done) => this._native.statusRemote(feature, remote ?? null, done))
  }

  /**
   * Records on `remote` (default: `sync_remote`) an abort of every machine's run of `feature`;
   * each stops its agents at its next look at the remote. A run here is aborted at once too.
   * @returns {Promise<object>} `{ remote, request, localRun }`
   */
  abortRemote(feature, remote) {
    return this._settledReport((done) => this._native.abortRemote(feature, remote ?? null, done))
  }

  _settledReport(start) {
    return new Promise((resolve, reject) => {
      const done = (result) => {
        if (result.ok) resolve(result.report)
        else reject(kittyError(result.code, result.message))
      }
      try {
        start(done)
      } catch (err) {
        reject(err && typeof err.code === 'string' ? kittyError(err.code, err.message) : err)
      }
    })
  }

  /** The feature's report, read back from git. */
  report(feature) {
    return settle((done) => this._native.reportAsync(feature, done))
  }

  /**
   * The feature as a graph to draw: `{ feature, nodes: [{ id, title, lane, class, layer }],
   * edges: [{ from, to }], lanes: [{ lane, count }], fingerprint }`, read from the refs.
   */
  graph(feature) {
    return settle((done) => this._native.graphAsync(feature, done))
  }

  /**
   * The feature's graph now, then again each time its refs move (a run here, in another
   * process, or another machine's after a fetch): an async iterator for `for await`. The kernel
   * says when refs move (no polling while nothing does; where it cannot, they are looked at every
   * `pollMs`, default 300). Ends when `signal` aborts or the loop breaks.
   */
  async *watch(feature, options = {}) {
    const signal = options.signal
    let pending = false
    let failure = null
    let wake = null
    const poke = () => {
      if (wake) {
        const w = wake
        wake = null
        w()
      }
    }
    const watcher = call(() =>
      this._native.watchRefs(feature, options.pollMs ?? 300, (result) => {
        if (result.ok) pending = true
        else failure = kittyError(result.code, result.message)
        poke()
      }),
    )
    signal?.addEventListener('abort', poke, { once: true })
    try {
      let last = null
      while (!signal?.aborted) {
        if (failure) throw failure
        if (!pending) {
          await new Promise((resolve) => {
            wake = resolve
          })
          continue
        }
        pending = false
        const graph = await this.graph(feature)
        if (graph.fingerprint !== last) {
          last = graph.fingerprint
          yield graph
        }
      }
    } finally {
      watcher.stop()
      signal?.removeEventListener('abort', poke)
    }
  }

  /** `{ run, wps: { [id]: state }, corrupt: [{ reference, why }] }` from the refs. */
  status(feature) {
    // Told of each batch as it is read, the JS thread writes and parses it; then the head.
    return new Promise((resolve, reject) => {
      const wps = {}
      let stream = null
      const ready = (finished) => {
        try {
          if (!finished) {
            Object.assign(wps, JSON.parse(call(() => stream.next())))
            return
          }
          call(() => stream.next())
          resolve(joinStatus(call(() => stream.finish()), wps))
        } catch (err) {
          reject(err)
        }
      }
      try {
        // The first call comes from the event loop, after `stream` is set.
        stream = call(() => this._native.statusNotify(feature, ready))
      } catch (err) {
        reject(err)
      }
    })
  }

  /** `status()` on the JS thread (it waits for git): one read of the refs. */
  statusSync(feature) {
    const stream = call(() => this._native.statusStream(feature))
    // Each batch is parsed here while the reader writes the next.
    const wps = {}
    for (let text = call(() => stream.next()); text !== null; text = call(() => stream.next())) {
      Object.assign(wps, JSON.parse(text))
    }
    return joinStatus(call(() => stream.finish()), wps)
  }

  /** Every event of one WP (or all), oldest first. */
  history(feature, wp) {
    return settle((done) => this._native.historyAsync(feature, wp, done))
  }

  /** `history()` on the JS thread (cheap for one WP). */
  historySync(feature, wp) {
    return call(() => this._native.history(feature, wp))
  }

  /**
   * Aborts the feature's run (in this process or another); resolves with whether one was
   * running. With none alive, a crashed run's leftover agents are ended.
   */
  abort(feature) {
    return settle((done) => this._native.abortAsync(feature, done))
  }

  /** Moves a blocked WP back to planned; resolves with its new state. */
  retry(feature, wp) {
    return settle((done) => this._native.retryAsync(feature, wp, done))
  }

  /**
   * Releases a WP held by a run that cannot release it (another host, a crashed container):
   * it keeps its lane and branch, unowned, for the next run. Resolves with its new state.
   */
  release(feature, wp) {
    return settle((done) => this._native.releaseAsync(feature, wp, done))
  }
}

/**
 * Loads and validates a feature: a spec-kitty directory, a Kiro spec or a markdown task list
 * (throws an Error with code "feature_invalid"). `options.format` names the reader;
 * `options.includeOptional` loads Kiro's optional tasks too.
 */
function loadFeature(path, options = {}) {
  return call(() => native.loadFeature(path, options.format, options.includeOptional))
}

/** Every built-in and configured agent, found on PATH or not, with its version (a Promise). */
function detectAgents(config) {
  return settle((done) => native.detectAgentsAsync(config, done))
}

/**
 * Clones `url` through git (your credentials) into `<workspaceDir>/<repo name>`, or reuses a
 * clone of the same URL there (fetched, fast-forwarded when clean); a clone of another URL is
 * refused, a failed clone leaves nothing. A Promise of `{ name, path, reused, branch, warnings }`.
 * @param {string} url
 * @param {{workspaceDir?: string, branch?: string}} [options]
 */
function cloneWorkspace(url, options = {}) {
  return settle((done) => native.cloneWorkspaceAsync(url, options.workspaceDir, options.branch, done))
}

/** Every workspace in `workspaceDir` with its origin, branch and features' progress (a Promise). */
function listWorkspaces(workspaceDir) {
  return settle((done) => native.listWorkspacesAsync(workspaceDir, done))
}

/**
 * Removes workspace `name`: refused (code "worktree_dirty") while it has uncommitted files or
 * branches on no remote unless `force`; a bundle of every ref is written first either way.
 * @param {string} name
 * @param {{workspaceDir?: string, force?: boolean}} [options]
 */
function removeWorkspace(name, options = {}) {
  return settle((done) => native.removeWorkspaceAsync(name, options.workspaceDir, options.force, done))
}

module.exports = {
  KittyError,
  Orchestrator,
  loadFeature,
  detectAgents,
  cloneWorkspace,
  listWorkspaces,
  removeWorkspace,
  version: native.version,
}
