//! Core errors as JS `Error`s whose `code` is the stable error code (same as Python's `.code`),
//! and panics as `internal` errors: a bug in a native method must reject or throw, never abort
//! Node or leave a Promise pending.

use std::panic::{AssertUnwindSafe, catch_unwind};

/// A stable error code; becomes `err.code` in JavaScript.
pub struct Code(pub &'static str);

impl AsRef<str> for Code {
    fn as_ref(&self) -> &str {
        self.0
    }
}

/// Converts a core error into a napi error carrying its code and the CLI's message.
pub fn to_js(err: kitty_orchestrator::Error) -> napi::Error<Code> {
    napi::Error::new(Code(err.code().as_str()), err.to_string())
}

/// The message of a panic payload.
pub fn panic_text(payload: Box<dyn std::any::Any + Send>) -> String {
    payload
        .downcast_ref::<&str>()
        .map(|s| s.to_string())
        .or_else(|| payload.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "a panic without a message".into())
}

/// Runs a native method's body; a panic becomes an `Error` with code `internal`.
pub fn guard<T>(body: impl FnOnce() -> napi::Result<T, Code>) -> napi::Result<T, Code> {
    match catch_unwind(AssertUnwindSafe(|| {
        debug_panic("native");
        body()
    })) {
        Ok(result) => result,
        Err(payload) => Err(napi::Error::new(Code("internal"), format!("internal error: {}", panic_text(payload)))),
    }
}

/// Debug builds only: `KITTY_DEBUG_PANIC_NATIVE=<point>` panics at that point, so tests can
/// check that a panic reaches JavaScript as an error.
pub fn debug_panic(point: &str) {
    #[cfg(debug_assertions)]
    if std::env::var("KITTY_DEBUG_PANIC_NATIVE").is_ok_and(|v| v == point) {
        panic!("injected by KITTY_DEBUG_PANIC_NATIVE={point} for a test");
    }
    #[cfg(not(debug_assertions))]
    let _ = point;
}
