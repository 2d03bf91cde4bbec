//! Step `packages`: the system packages bindep.txt (and every /opt/loci/bindep* extra) asks
//! for, for PROJECT + PROFILES + the release codename, plus DIST_PACKAGES.

use crate::bindep::{BindepFile, Platform};
use crate::error::Result;
use crate::plan::{PlanInput, Step};

/// The packages the bindep files resolve to for this build, in file order, without duplicates.
pub fn bindep_packages(input: &PlanInput) -> Result<Vec<String>> {
    let c = input.config;
    let mut profiles = vec![c.project.clone()];
    profiles.extend(c.profiles.iter().cloned());
    if let Some(codename) = &input.distro.codename {
        profiles.push(codename.clone());
    }
    resolve(&input.bindep_files, &platform(input), &profiles)
}

/// The bindep platform of the distro, with DISTRO's override applied to the id.
pub fn platform(input: &PlanInput) -> Platform {
    let mut os = input.distro.os_release.clone();
    os.id = input.distro.id.clone();
    Platform::from_os_release(&os)
}

/// Evaluates every file for `profiles` and concatenates the results, dropping repeats.
pub fn resolve(files: &[(String, String)], platform: &Platform, profiles: &[String]) -> Result<Vec<String>> {
    let mut out: Vec<String> = Vec::new();
    for (name, text) in files {
        let file = BindepFile::parse(name, text)?;
        for p in file.packages(platform, profiles) {
            if !out.contains(&p) {
                out.push(p);
            }
        }
    }
    Ok(out)
}

pub fn plan(input: &PlanInput) -> Result<Option<Step>> {
    let c = input.config;
    let mut packages = bindep_packages(input)?;
    for p in &c.dist_packages {
        if !packages.contains(p) {
            packages.push(p.clone());
        }
    }
    if packages.is_empty() {
        return Ok(None);
    }
    let mut step = Step::new("packages", "system packages from bindep and DIST_PACKAGES")
        .run(input.distro.install_cmd(&packages));
    step.packages = packages;
    Ok(Some(step))
}
