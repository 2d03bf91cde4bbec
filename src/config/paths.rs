//! Fixed locations inside the image ([`Paths`]).

use std::path::PathBuf;

use serde::Serialize;

/// Fixed locations inside the image. Tests point them into a temporary directory.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Paths {
    /// SOURCES_DIR (LOCI master's, default `/tmp`): where the project's source tree is cloned
    /// (`SOURCES_DIR/PROJECT`), or found when it is there already; a requirements build also
    /// looks there for source trees that replace constraints.
    pub sources_dir: PathBuf,
    /// The data dir (`/tmp`, the Dockerfile's mount of `data/`): EXTRA_PROJECTS trees, the
    /// adjusted constraint files, downloads and scratch files; emptied at cleanup.
    pub data_dir: PathBuf,
    /// Where the wheels are extracted (`/tmp/wheels`).
    pub wheels_dir: PathBuf,
    /// Where BuildKit mounts the WHEELS image (WHEELS_PATH, LOCI master's `/wheels`).
    pub wheels_mount: PathBuf,
    /// The virtualenv (`/var/lib/openstack`).
    pub venv: PathBuf,
    /// Where bindep*/pydep* files are added (`/opt/loci`).
    pub loci_dir: PathBuf,
    /// Where build facts are recorded (`/etc/image_info`).
    pub image_info: PathBuf,
    /// The image root, where PROJECT=requirements leaves its wheels and constraint files and
    /// deletes everything else (`/`).
    pub root: PathBuf,
}

impl Default for Paths {
    fn default() -> Self {
        Paths {
            sources_dir: "/tmp".into(),
            data_dir: "/tmp".into(),
            wheels_dir: "/tmp/wheels".into(),
            wheels_mount: "/wheels".into(),
            venv: "/var/lib/openstack".into(),
            loci_dir: "/opt/loci".into(),
            image_info: "/etc/image_info".into(),
            root: "/".into(),
        }
    }
}
