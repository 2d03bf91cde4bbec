//! The `loci` command. Everything lives in the library; this only collects the environment,
//! runs the command, and alone prints errors and chooses the exit code.

use std::io::Write;

fn main() {
    // SIGINT, SIGTERM and SIGHUP stop the children and unwind (loci::interrupt); before any
    // thread starts, so that every thread leaves them to its watcher.
    if let Err(e) = loci::interrupt::install() {
        let _ = writeln!(std::io::stderr(), "loci: error: cannot handle signals: {e}");
        std::process::exit(1);
    }
    let env: loci::config::Env = std::env::vars().collect();
    let code = match loci::cli::parse(std::env::args_os()) {
        // A bad command line (exit code 2), or the text of --help or --version (0).
        Err(e) => {
            let _ = e.print();
            e.exit_code()
        }
        Ok(cli) => match loci::cli::run(cli, env) {
            Ok(code) => code,
            Err(e) => match loci::interrupt::received() {
                // Interrupted: what failed failed because of it; say so, not the fallout.
                Some(sig) => {
                    let _ = writeln!(
                        std::io::stderr(),
                        "loci: interrupted by {} ({}): the running commands were stopped, nothing half-done was kept",
                        sig.as_str(),
                        e.what
                    );
                    128 + sig as i32
                }
                // Not eprintln!: a closed stderr must not turn an error into a panic.
                None => {
                    let _ = writeln!(std::io::stderr(), "loci: error: {e}");
                    1
                }
            },
        },
    };
    // A signal that came while the work was ending (or in a step that must not stop half-way,
    // such as a merge into WHEELS_DEST) still ends loci with its code.
    let code = match loci::interrupt::received() {
        Some(sig) if code == 0 => {
            let _ = writeln!(
                std::io::stderr(),
                "loci: interrupted by {}: stopped after finishing what could not be left half-done",
                sig.as_str()
            );
            128 + sig as i32
        }
        Some(sig) => 128 + sig as i32,
        None => code,
    };
    let _ = std::io::stdout().flush();
    std::process::exit(code);
}
