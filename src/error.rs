//! The one error type every step returns.
//!
//! A build log is read by a tired operator at 3am, so every failure carries the same three parts:
//! *what* failed (the step and the input that caused it), *why* (the underlying cause), and a
//! *hint* for what to try. `Display` renders all of them; `main` prints it and exits non-zero.
//!
//! The cause is kept twice: as text (what is rendered, also for causes that are no error, like a
//! command's output) and, when it is an error, as the [`std::error::Error::source`] chain.

use std::fmt;

/// A failure with enough context to act on.
#[derive(Debug, thiserror::Error)]
pub struct Error {
    /// The step that failed (`wheels`, `install`, ...), filled in by the executor when missing.
    pub step: Option<String>,
    /// What was being done, naming the input: "WHEELS=/tmp/w.tar.gz: cannot open".
    pub what: String,
    /// The underlying cause, if any (an io error, an HTTP status, a command's output tail), as
    /// rendered.
    pub cause: Option<String>,
    /// What the user can try.
    pub hint: Option<String>,
    /// The underlying error, when the cause is one ([`Error::caused_by`]).
    pub source: Option<Box<dyn std::error::Error + Send + Sync + 'static>>,
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
            source: None,
        }
    }

    /// Attach the underlying cause, as text.
    pub fn cause(mut self, cause: impl fmt::Display) -> Self {
        self.cause = Some(cause.to_string());
        self
    }

    /// Attach the underlying error: rendered as the cause, and kept as the source of this one.
    pub fn caused_by(mut self, source: impl std::error::Error + Send + Sync + 'static) -> Self {
        self.cause = Some(source.to_string());
        self.source = Some(Box::new(source));
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

impl<T, E: std::error::Error + Send + Sync + 'static> Context<T> for std::result::Result<T, E> {
    fn context(self, what: impl FnOnce() -> String) -> Result<T> {
        self.map_err(|e| Error::new(what()).caused_by(e))
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
    fn keeps_the_source_chain_and_renders_it_as_the_cause() {
        use std::error::Error as _;
        let io = std::io::Error::new(std::io::ErrorKind::NotFound, "no such file");
        let e = Error::new("cannot open /x").caused_by(io).in_step("wheels");
        assert_eq!(
            e.to_string(),
            "step `wheels` failed: cannot open /x\n  caused by: no such file"
        );
        let source = e.source().expect("a source");
        assert_eq!(source.to_string(), "no such file");
        let io = source
            .downcast_ref::<std::io::Error>()
            .expect("the io error");
        assert_eq!(io.kind(), std::io::ErrorKind::NotFound);
        // A textual cause has no source.
        assert!(Error::new("x").cause("y").source().is_none());
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
