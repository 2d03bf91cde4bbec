//! The `loci` command. Everything lives in the library; this only collects the environment,
//! runs the command and turns an error into a message and an exit code.

use std::io::Write;

fn main() {
    let env: loci::config::Env = std::env::vars().collect();
    if let Err(e) = loci::cli::run(std::env::args_os(), env) {
        // Not eprintln!: a closed stderr must not turn an error into a panic.
        let _ = writeln!(std::io::stderr(), "loci: error: {e}");
        std::process::exit(1);
    }
}
