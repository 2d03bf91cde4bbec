//! The one error type every step returns.
//!
//! A build log is read by a tired operator at 3am, so every failure carries the same three parts:
//! *what* failed (the step and the input that caused it), *why* (the underlying cause), and a
//! *hint* for what to try. `Display` renders all of them; `main` prints it and exits non-zero.

use std::fmt;

/// A failure with enough context to act on.
#[derive(Debug, thiserror::Error)]
pub struct Error {
    /// The step that failed (`wheels`, `install`, ...), filled in by the executor when missing.
    pub step: Option<String>,
    /// What was being done, naming the input: "WHEELS=/tmp/w.tar.gz: cannot open".
    pub what: String,
    /// The underlying cause, if any (an io error, an HTTP status, a command's output tail).
    pub cause: Option<String>,
    /// What the user can try.
    pub hint: Option<String>,
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    /// A new error describing what failed.
    pub fn new(what: impl Into<String>) -> Self {
        Error {
            step: None,
            what: what.into(),
            cause: None,
            hint: None,
        }
    }

    /// Attach the underlying cause.
    pub fn cause(mut self, cause: impl fmt::Display) -> Self {
        self.cause = Some(cause.to_string());
        self
    }

    /// Attach a hint for the user.
    pub fn hint(mut self, hint: impl Into<String>) -> Self {
        self.hint = Some(hint.into());
        self
    }

    /// Name the step, unless a more specific one was already named.
    pub fn in_step(mut self, step: impl Into<String>) -> Self {
        if self.step.is_none() {
            self.step = Some(step.into());
        }
        self
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.step {
            Some(step) => write!(f, "step `{step}` failed: {}", self.what)?,
            None => write!(f, "{}", self.what)?,
        }
        if let Some(cause) = &self.cause {
            let cause = cause.trim_end();
            if cause.contains('\n') {
                write!(f, "\n  caused by:")?;
                for line in cause.lines() {
                    write!(f, "\n    {line}")?;
                }
            } else {
                write!(f, "\n  caused by: {cause}")?;
            }
        }
        if let Some(hint) = &self.hint {
            write!(f, "\n  hint: {hint}")?;
        }
        Ok(())
    }
}

/// `text` cut to at most `max` characters, with "…" marking the cut, so that a huge offending
/// input (a 10 MB line, a binary blob) is named in a message without being echoed in full.
pub fn cut(text: &str, max: usize) -> String {
    match text.char_indices().nth(max) {
        None => text.to_string(),
        Some((end, _)) => format!("{}…", &text[..end]),
    }
}

/// The longest input value or line quoted in a message.
pub const QUOTE_MAX: usize = 200;

/// Shorthand for attaching "what was being done" to foreign errors.
pub trait Context<T> {
    fn context(self, what: impl FnOnce() -> String) -> Result<T>;
}

impl<T, E: fmt::Display> Context<T> for std::result::Result<T, E> {
    fn context(self, what: impl FnOnce() -> String) -> Result<T> {
        self.map_err(|e| Error::new(what()).cause(e))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_step_cause_and_hint() {
        let e = Error::new("WHEELS=/nope.tar.gz: cannot open")
            .cause("No such file or directory (os error 2)")
            .hint("check the path")
            .in_step("wheels");
        let s = e.to_string();
        assert_eq!(
            s,
            "step `wheels` failed: WHEELS=/nope.tar.gz: cannot open\n  caused by: No such file or directory (os error 2)\n  hint: check the path"
        );
    }

    #[test]
    fn long_text_is_cut_on_a_char_boundary() {
        assert_eq!(cut("short", 10), "short");
        assert_eq!(cut("abcdef", 3), "abc…");
        assert_eq!(cut("ééééé", 2), "éé…");
        assert_eq!(
            cut(&"x".repeat(10_000_000), QUOTE_MAX).chars().count(),
            QUOTE_MAX + 1
        );
    }

    #[test]
    fn keeps_the_first_step_named() {
        let e = Error::new("x").in_step("inner").in_step("outer");
        assert_eq!(e.step.as_deref(), Some("inner"));
    }

    #[test]
    fn multi_line_causes_are_indented() {
        let e = Error::new("pip failed").cause("line one\nline two\n");
        assert!(e
            .to_string()
            .contains("caused by:\n    line one\n    line two"));
    }
}
