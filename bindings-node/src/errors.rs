//! Core errors as JS `Error`s whose `code` is the stable error code (same as Python's `.code`).

/// A stable error code; becomes `err.code` in JavaScript.
pub struct Code(pub &'static str);

impl AsRef<str> for Code {
    fn as_ref(&self) -> &str {
        self.0
    }
}

/// Converts a core error into a napi error carrying its code and the CLI's message.
pub fn to_js(err: kitty_orchestrator::Error) -> napi::Error<Code> {
    napi::Error::new(Code(err.code()), err.to_string())
}
