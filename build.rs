//! Records the target the binary is compiled for (`loci --version` names it).
fn main() {
    let target = std::env::var("TARGET").unwrap_or_else(|_| "unknown".into());
    println!("cargo:rustc-env=LOCI_TARGET={target}");
    println!("cargo:rerun-if-changed=build.rs");
}
