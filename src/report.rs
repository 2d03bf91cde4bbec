//! The build log's one funnel: every progress line of the library goes through [`say`] (the
//! [`crate::say!`] macro), and every result meant for stdout through [`write_stdout`].
//!
//! By default lines go to stdout; [`set_quiet`] drops them (a caller that wants only the
//! result), and [`capture`] collects the lines said on the calling thread instead, so that a
//! test can assert on what a step reports. A closed or full stdout (`loci build | head -1`)
//! loses the line instead of panicking in the middle of a build.

use std::cell::RefCell;
use std::fmt;
use std::io::Write;
use std::sync::atomic::{AtomicBool, Ordering};

use crate::error::{Error, Result};

static QUIET: AtomicBool = AtomicBool::new(false);

thread_local! {
    /// The lines said on this thread while [`capture`] runs.
    static CAPTURED: RefCell<Option<Vec<String>>> = const { RefCell::new(None) };
}

/// Prints a line of the build log like `println!`, through [`say`].
#[macro_export]
macro_rules! say {
    ($($arg:tt)*) => {{
        $crate::report::say(format_args!($($arg)*));
    }};
}

/// Reports one line of the build log.
pub fn say(line: fmt::Arguments) {
    let captured = CAPTURED.with(|c| match c.borrow_mut().as_mut() {
        Some(lines) => {
            lines.push(line.to_string());
            true
        }
        None => false,
    });
    if captured || QUIET.load(Ordering::Relaxed) {
        return;
    }
    let _ = writeln!(std::io::stdout(), "{line}");
}

/// Drops (`true`) or prints (`false`, the default) the progress lines of every thread.
pub fn set_quiet(quiet: bool) {
    QUIET.store(quiet, Ordering::Relaxed);
}

/// Runs `f`, returning what it returns and the lines it said on this thread (not printed).
pub fn capture<R>(f: impl FnOnce() -> R) -> (R, Vec<String>) {
    let outer = CAPTURED.with(|c| c.borrow_mut().replace(Vec::new()));
    let result = f();
    let lines = CAPTURED.with(|c| std::mem::replace(&mut *c.borrow_mut(), outer));
    (result, lines.unwrap_or_default())
}

/// Writes `text` to stdout. A reader that went away (`loci plan | head -1`) is no error: like
/// `cat`, loci ends quietly (exit 0) without the rest. Any other failure (a full disk behind
/// `> file`) is an error naming stdout.
pub fn write_stdout(text: &str) -> Result<()> {
    let mut out = std::io::stdout().lock();
    match out.write_all(text.as_bytes()).and_then(|_| out.flush()) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Ok(()),
        Err(e) => Err(Error::new("cannot write the output to stdout")
            .caused_by(e)
            .hint("check where stdout goes (a full disk, a closed file)")),
    }
}

/// Flushes the build log, so that a child's output comes after the lines said before it.
pub fn flush() {
    let _ = std::io::stdout().flush();
}

/// Writes one line a child process printed, to stdout or stderr as the child did (the build
/// log shows a command's output as it comes).
pub fn child_line(stderr: bool, line: &str) {
    if stderr {
        let _ = writeln!(std::io::stderr(), "{line}");
    } else {
        let _ = writeln!(std::io::stdout(), "{line}");
    }
}

/// Writes `text` to stderr as it is: the diagnostics of a drop-in for another tool (`loci
/// bindep` prints bindep's messages there). A closed stderr loses them.
pub fn write_stderr(text: &str) {
    let _ = std::io::stderr().write_all(text.as_bytes());
}

/// `1.2s`, `2m03s`.
pub fn human(d: std::time::Duration) -> String {
    let s = d.as_secs_f64();
    if s < 60.0 {
        format!("{s:.1}s")
    } else {
        format!("{}m{:02}s", (s / 60.0) as u64, (s as u64) % 60)
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn human_durations() {
        assert_eq!(human(std::time::Duration::from_millis(1500)), "1.5s");
        assert_eq!(human(std::time::Duration::from_secs(123)), "2m03s");
    }

    use super::*;

    #[test]
    fn captured_lines_are_returned_in_order_and_nest() {
        let (value, lines) = capture(|| {
            crate::say!("one {}", 1);
            let ((), inner) = capture(|| crate::say!("inner"));
            assert_eq!(inner, ["inner"]);
            crate::say!("two");
            42
        });
        assert_eq!(value, 42);
        assert_eq!(lines, ["one 1", "two"]);
    }
}
