'use strict'
// kitty-orchestrator for Node: a thin, typed layer over the native addon (index.js, generated
// by napi-rs). Promises, an AbortSignal, events as plain objects (the same JSON shape as Rust
// and Python), and Errors carrying the stable `code` shared with the CLI and Python.

const native = require('../index.js')

/** Turns a failure from the addon into an Error with `code`. */
function kittyError(code, message) {
  const err = new Error(message)
  err.code = code
  return err
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

class Orchestrator {
  /**
   * @param {string} repo the git repository
   * @param {string|object} [config] a path to an orchestrator.toml, an object with its keys, or
   *   nothing for `<repo>/.kittify/orchestrator.toml`
   */
  constructor(repo, config) {
    const json = config && typeof config === 'object' ? JSON.stringify(config) : undefined
    const path = typeof config === 'string' ? config : undefined
    this._native = call(() => new native.NativeOrchestrator(repo, json, path))
  }

  /**
   * Runs (or resumes) a feature until nothing more can start.
   * @returns {Promise<object>} the run summary
   */
  run(feature, options = {}) {
    const { onEvent, signal, implAgents, reviewAgents, maxConcurrent, outputLines, graceMs, retryBaseMs } = options
    const opts = JSON.stringify({ implAgents, reviewAgents, maxConcurrent, outputLines, graceMs, retryBaseMs })
    return new Promise((resolve, reject) => {
      if (signal && signal.aborted) {
        reject(kittyError('aborted', 'the AbortSignal was already aborted'))
        return
      }
      let onAbort
      // The abort listener is removed when the run ends, so nothing outlives it.
      const done = (text) => {
        if (signal && onAbort) signal.removeEventListener('abort', onAbort)
        const result = JSON.parse(text)
        if (result.ok) resolve(result.summary)
        else reject(kittyError(result.code, result.message))
      }
      const events = onEvent
        ? (text) => {
            try {
              onEvent(JSON.parse(text))
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

  /** `{ run, wps: { [id]: state } }` from the refs. */
  status(feature) {
    return JSON.parse(call(() => this._native.status(feature)))
  }

  /** Every event of one WP (or all), oldest first. */
  history(feature, wp) {
    return JSON.parse(call(() => this._native.history(feature, wp)))
  }

  /** Aborts the feature's run (in this process or another); whether one was running. */
  abort(feature) {
    return call(() => this._native.abort(feature))
  }

  /** Moves a blocked WP back to planned; returns its new state. */
  retry(feature, wp) {
    return JSON.parse(call(() => this._native.retry(feature, wp)))
  }
}

/** Loads and validates a feature directory (throws an Error with code "feature_invalid"). */
function loadFeature(path) {
  return call(() => native.loadFeature(path))
}

/** Every built-in and configured agent, found on PATH or not, with its version. */
function detectAgents(config) {
  return JSON.parse(call(() => native.detectAgentsJson(config ? JSON.stringify(config) : undefined)))
}

module.exports = { Orchestrator, loadFeature, detectAgents, version: native.version }
