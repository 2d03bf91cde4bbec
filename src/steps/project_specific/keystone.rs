//! keystone: Apache's mod_oauth2 for the `mod_oauth2` profile on Debian and Ubuntu
//! (LOCI's `project_specific/keystone/01_add_oauth_modules.sh`).
//!
//! On x86_64 the module's .debs are downloaded from LIBOAUTH2_URL and MOD_OAUTH2_URL
//! (`{codename}` becomes the release codename, `{arch}` the Debian architecture) with loci's
//! HTTP client (trust store, proxies, retries), installed with apt-get, and enabled with
//! `a2enmod oauth2`, as in LOCI. OpenIDC publishes amd64 .debs only: on another architecture
//! (LOCI skips the module there) the distro's own `libapache2-mod-oauth2` is installed instead
//! (Debian bookworm and later, Ubuntu noble), unless LIBOAUTH2_URL or MOD_OAUTH2_URL name .debs
//! of their own. RPM distros get no step, as in LOCI.

use std::io::Write;
use std::path::{Path, PathBuf};

use crate::config::{Config, TlsConfig};
use crate::distro::Family;
use crate::error::{Error, Result};
use crate::plan::{CleanupAction, Cmd, Deb, KeystoneHook, PlanInput, Step};
use crate::runner::Context;

/// The profile that asks for the module.
pub const PROFILE: &str = "mod_oauth2";
pub const HOOK_DOWNLOAD: &str = "download the .debs of LIBOAUTH2_URL and MOD_OAUTH2_URL";

/// The distro's package of the module (liboauth2 comes with it).
pub const DISTRO_PACKAGE: &str = "libapache2-mod-oauth2";

/// The .debs for `codename` and the Debian architecture `arch`, saved under the data dir
/// (emptied at cleanup).
pub fn debs(config: &Config, codename: &str, arch: &str) -> Vec<Deb> {
    let dir = download_dir(config);
    [
        ("LIBOAUTH2_URL", &config.keystone.liboauth2_url),
        ("MOD_OAUTH2_URL", &config.keystone.mod_oauth2_url),
    ]
    .into_iter()
    .map(|(var, template)| {
        let url = template
            .replace("{codename}", codename)
            .replace("{arch}", arch);
        let name = url
            .split(['?', '#'])
            .next()
            .and_then(|u| u.rsplit('/').next())
            .filter(|n| n.ends_with(".deb"))
            .map(String::from)
            .unwrap_or_else(|| format!("{}.deb", var.to_ascii_lowercase()));
        Deb {
            var,
            path: dir.join(name),
            url,
        }
    })
    .collect()
}

fn download_dir(config: &Config) -> PathBuf {
    config.paths.data_dir.join("loci-mod-oauth2")
}

/// Whether this build gets the module: keystone, the profile, a dpkg distro.
pub fn wanted(input: &PlanInput) -> bool {
    input.config.profiles.iter().any(|p| p == PROFILE)
        && input.distro.family == Family::Debian
        && input.distro.codename.is_some()
}

/// Whether the module comes from the .debs of the URLs: on x86_64 (the plan's
/// [`crate::host::Host`]), or when they are not loci's defaults (OpenIDC's amd64 .debs).
fn from_urls(input: &PlanInput) -> bool {
    let k = &input.config.keystone;
    input.host.arch == "x86_64"
        || k.mod_oauth2_url != crate::config::DEFAULT_MOD_OAUTH2_URL
        || k.liboauth2_url != crate::config::DEFAULT_LIBOAUTH2_URL
}

pub fn plan(input: &PlanInput) -> Result<Option<Step>> {
    if !wanted(input) {
        return Ok(None);
    }
    let c = input.config;
    let Some(codename) = input.distro.codename.as_deref() else {
        return Ok(None);
    };
    let mut packages = vec!["apache2".to_string()];
    let mut step = if from_urls(input) {
        let debs = debs(c, codename, input.host.oci_arch());
        packages.extend(debs.iter().map(|d| d.path.display().to_string()));
        Step::new(
            "project",
            format!("keystone: Apache mod_oauth2 for {codename}"),
        )
        .action(KeystoneHook::Download { debs })
        .action(crate::steps::packages::install_action(
            input.distro,
            &packages,
        ))
        .run(Cmd::new("a2enmod", ["oauth2"]))
        .action(CleanupAction::Remove {
            paths: vec![download_dir(c)],
            contents_only: false,
        })
    } else {
        packages.push(DISTRO_PACKAGE.to_string());
        Step::new(
            "project",
            format!(
                "keystone: Apache mod_oauth2 for {codename} on {}: the distro's {DISTRO_PACKAGE} (OpenIDC publishes amd64 packages only; LIBOAUTH2_URL and MOD_OAUTH2_URL may name others)",
                input.host.oci_arch()
            ),
        )
        .action(crate::steps::packages::install_action(
            input.distro,
            &packages,
        ))
        .run(Cmd::new("a2enmod", ["oauth2"]))
    };
    step.packages = packages;
    Ok(Some(step))
}

impl std::fmt::Display for KeystoneHook {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let KeystoneHook::Download { .. } = self;
        f.write_str(HOOK_DOWNLOAD)
    }
}

/// Runs keystone's hook.
pub fn run(hook: &KeystoneHook, ctx: &mut Context) -> Result<()> {
    let KeystoneHook::Download { debs } = hook;
    debs.iter()
        .try_for_each(|deb| download(deb, &ctx.config.tls))
}

/// Downloads one .deb, naming its URL and variable when it cannot be fetched.
pub fn download(deb: &Deb, tls: &TlsConfig) -> Result<()> {
    let what = format!("cannot download {}={}", deb.var, deb.url);
    let hint = format!(
        "set {} to a reachable URL of the .deb for this release (`{{codename}}` in it is replaced with the codename), e.g. a copy on a local mirror; or build without the {PROFILE} profile",
        deb.var
    );
    let fail = |e: Error| {
        let mut out = Error::new(what.clone()).hint(hint.clone());
        out.cause = Some(match (e.cause, e.what) {
            (Some(c), w) => format!("{w}: {c}"),
            (None, w) => w,
        });
        out
    };
    let client = crate::http::client(tls, crate::http::Options::default()).map_err(fail)?;
    let resp = crate::http::send(&deb.url, || client.get(&deb.url)).map_err(fail)?;
    if !resp.status().is_success() {
        return Err(fail(crate::http::status_error(&deb.url, resp)));
    }
    let bytes = resp
        .bytes()
        .map_err(|e| fail(Error::new("the transfer broke off").cause(crate::http::chain(&e))))?;
    write(&deb.path, &bytes)?;
    crate::say!(
        "downloaded {} ({} bytes) -> {}",
        deb.url,
        bytes.len(),
        deb.path.display()
    );
    Ok(())
}

fn write(path: &Path, bytes: &[u8]) -> Result<()> {
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir)
            .map_err(|e| Error::new(format!("cannot create {}", dir.display())).caused_by(e))?;
    }
    let mut f = std::fs::File::create(path)
        .map_err(|e| Error::new(format!("cannot write {}", path.display())).caused_by(e))?;
    f.write_all(bytes)
        .map_err(|e| Error::new(format!("cannot write {}", path.display())).caused_by(e))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::{BufRead, BufReader};
    use std::net::TcpListener;

    /// Serves `requests` requests on 127.0.0.1 with the given status and body, then stops.
    fn serve(
        status: &'static str,
        body: &'static [u8],
        requests: usize,
    ) -> (String, std::thread::JoinHandle<()>) {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let handle = std::thread::spawn(move || {
            for _ in 0..requests {
                let (mut s, _) = listener.accept().unwrap();
                let mut r = BufReader::new(s.try_clone().unwrap());
                let mut line = String::new();
                while r.read_line(&mut line).unwrap() > 0 && line != "\r\n" {
                    line.clear();
                }
                write!(
                    s,
                    "HTTP/1.1 {status}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
                    body.len()
                )
                .unwrap();
                s.write_all(body).unwrap();
            }
        });
        (format!("http://{addr}"), handle)
    }

    fn config(env: &[(&str, &str)]) -> Config {
        let mut e: crate::config::Env = env
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        e.insert("PROJECT".into(), "keystone".into());
        Config::from_env(&e).unwrap()
    }

    #[test]
    fn urls_get_the_codename_and_files_their_names() {
        let c = config(&[(
            "MOD_OAUTH2_URL",
            "https://mirror/m/libapache2-mod-oauth2_3.4.0-1.{codename}_amd64.deb?x=1",
        )]);
        let d = debs(&c, "bookworm", "amd64");
        assert_eq!(d[0].var, "LIBOAUTH2_URL");
        assert_eq!(
            d[0].url,
            "https://github.com/OpenIDC/liboauth2/releases/download/v1.6.3/liboauth2_1.6.3-1.bookworm_amd64.deb"
        );
        assert_eq!(
            d[0].path,
            PathBuf::from("/tmp/loci-mod-oauth2/liboauth2_1.6.3-1.bookworm_amd64.deb")
        );
        assert_eq!(
            d[1].url,
            "https://mirror/m/libapache2-mod-oauth2_3.4.0-1.bookworm_amd64.deb?x=1"
        );
        assert_eq!(
            d[1].path,
            PathBuf::from("/tmp/loci-mod-oauth2/libapache2-mod-oauth2_3.4.0-1.bookworm_amd64.deb")
        );
    }

    #[test]
    fn a_404_names_the_url_and_the_variable() {
        let (base, server) = serve("404 Not Found", b"no such release", 1);
        let dir = tempfile::tempdir().unwrap();
        let deb = Deb {
            var: "MOD_OAUTH2_URL",
            url: format!("{base}/mod_oauth2/libapache2-mod-oauth2_3.4.0-1.bookworm_amd64.deb"),
            path: dir.path().join("m.deb"),
        };
        let e = download(&deb, &TlsConfig::default())
            .unwrap_err()
            .to_string();
        server.join().unwrap();
        assert!(
            e.contains(&format!("cannot download MOD_OAUTH2_URL={}", deb.url)),
            "{e}"
        );
        assert!(e.contains("404"), "{e}");
        assert!(
            e.contains("hint: set MOD_OAUTH2_URL to a reachable URL"),
            "{e}"
        );
        assert!(!deb.path.exists());
    }

    #[test]
    fn a_200_is_saved() {
        let (base, server) = serve("200 OK", b"!<arch>\ndebian-binary", 1);
        let dir = tempfile::tempdir().unwrap();
        let deb = Deb {
            var: "LIBOAUTH2_URL",
            url: format!("{base}/liboauth2.deb"),
            path: dir.path().join("sub/l.deb"),
        };
        download(&deb, &TlsConfig::default()).unwrap();
        server.join().unwrap();
        assert_eq!(std::fs::read(&deb.path).unwrap(), b"!<arch>\ndebian-binary");
    }
}
