//! The `loci` command. Everything lives in the library; this only collects the environment,
//! runs the command, and alone prints errors and chooses the exit code.

use std::io::Write;

fn main() {
    let env: loci::config::Env = std::env::vars().collect();
    let code = match loci::cli::parse(std::env::args_os()) {
        // A bad command line (exit code 2), or the text of --help or --version (0).
        Err(e) => {
            let _ = e.print();
            e.exit_code()
        }
        Ok(cli) => match loci::cli::run(cli, env) {
            Ok(code) => code,
            Err(e) => {
                // Not eprintln!: a closed stderr must not turn an error into a panic.
                let _ = writeln!(std::io::stderr(), "loci: error: {e}");
                1
            }
        },
    };
    let _ = std::io::stdout().flush();
    std::process::exit(code);
}
