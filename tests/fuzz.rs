//! Property tests of the parsers that read untrusted input: the bindep parser never panics on any
//! text, and the archive reader never panics and never writes outside its destination, whatever
//! the bytes. Each property runs a bounded number of cases.

use std::path::Path;

use loci::bindep::{BindepFile, Platform};
use loci::os_release::OsRelease;
use proptest::prelude::*;

fn config() -> ProptestConfig {
    ProptestConfig {
        cases: 256,
        failure_persistence: None,
        ..ProptestConfig::default()
    }
}

/// Text made of the characters bindep's grammar cares about, so that most cases get deep into
/// the parser instead of failing on the first character.
fn bindep_like() -> impl Strategy<Value = String> {
    let alphabet: Vec<char> = "ab9-_.:+ []()!<>=,#\t\r\n\u{e9}\u{661}".chars().collect();
    proptest::collection::vec(proptest::sample::select(alphabet), 0..300)
        .prop_map(|c| c.into_iter().collect())
}

fn platforms() -> Vec<Platform> {
    [
        "ID=debian\nVERSION_ID=\"12\"\nVERSION_CODENAME=bookworm\n",
        "ID=rocky\nID_LIKE=\"rhel centos fedora\"\nVERSION_ID=\"9.4\"\n",
        "",
    ]
    .iter()
    .map(|t| Platform::from_os_release(&OsRelease::parse(t)))
    .collect()
}

fn check_bindep(text: &str) {
    match BindepFile::parse("fuzz.txt", text) {
        Ok(file) => {
            let profiles = file.profiles();
            for platform in platforms() {
                let _ = file.packages(&platform, &[]);
                let _ = file.packages(&platform, &profiles);
            }
        }
        Err(e) => {
            let s = e.to_string();
            assert!(s.starts_with("fuzz.txt:"), "{s}");
        }
    }
}

proptest! {
    #![proptest_config(config())]

    #[test]
    fn bindep_never_panics_on_any_text(text in any::<String>()) {
        check_bindep(&text);
    }

    #[test]
    fn bindep_never_panics_on_bindep_like_text(text in bindep_like()) {
        check_bindep(&text);
    }
}

/// One member of a generated archive.
#[derive(Debug, Clone)]
enum Member {
    File(String, Vec<u8>),
    Dir(String),
    Symlink(String, String),
    HardLink(String, String),
    /// A member at an absolute path inside the test's root, outside the destination.
    Absolute,
}

fn name() -> impl Strategy<Value = String> {
    prop_oneof![
        proptest::sample::select(vec![
            "a.whl",
            "d/b.whl",
            "d",
            "upper-constraints.txt",
            ".hidden",
            "d/../../escape",
            "../escape",
            "./c.whl",
            "d/./e",
        ])
        .prop_map(String::from),
        "[a-d/.]{1,12}",
    ]
}

fn member() -> impl Strategy<Value = Member> {
    prop_oneof![
        (name(), proptest::collection::vec(any::<u8>(), 0..64))
            .prop_map(|(n, d)| Member::File(n, d)),
        name().prop_map(Member::Dir),
        (name(), name()).prop_map(|(n, t)| Member::Symlink(n, t)),
        (
            name(),
            proptest::sample::select(vec!["..", "../..", "/etc", "/"])
        )
            .prop_map(|(n, t)| Member::Symlink(n, t.to_string())),
        (name(), name()).prop_map(|(n, t)| Member::HardLink(n, t)),
        Just(Member::Absolute),
    ]
}

/// A tar archive of `members`, names written raw (no checks of the builder's own).
fn tarball(members: &[Member], root: &Path) -> Vec<u8> {
    let mut b = tar::Builder::new(Vec::new());
    let outside = root.join("outside").display().to_string();
    for m in members {
        let (path, kind, data, link): (String, tar::EntryType, &[u8], Option<&str>) = match m {
            Member::File(n, d) => (n.clone(), tar::EntryType::Regular, d, None),
            Member::Dir(n) => (n.clone(), tar::EntryType::Directory, b"", None),
            Member::Symlink(n, t) => (n.clone(), tar::EntryType::Symlink, b"", Some(t)),
            Member::HardLink(n, t) => (n.clone(), tar::EntryType::Link, b"", Some(t)),
            Member::Absolute => (outside.clone(), tar::EntryType::Regular, b"x", None),
        };
        let mut h = tar::Header::new_gnu();
        h.set_entry_type(kind);
        h.set_mode(0o644);
        h.set_size(data.len() as u64);
        let raw = h.as_old_mut();
        let n = path.len().min(raw.name.len());
        raw.name[..n].copy_from_slice(&path.as_bytes()[..n]);
        if let Some(l) = link {
            let n = l.len().min(raw.linkname.len());
            raw.linkname[..n].copy_from_slice(&l.as_bytes()[..n]);
        }
        h.set_cksum();
        b.append(&h, data).unwrap();
    }
    b.into_inner().unwrap()
}

fn gzip(data: &[u8]) -> Vec<u8> {
    let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    std::io::Write::write_all(&mut e, data).unwrap();
    e.finish().unwrap()
}

/// Extracts `data` into `root/dest` and checks that nothing appeared outside it.
fn check_archive(root: &Path, data: &[u8]) {
    let dest = root.join("dest");
    std::fs::create_dir(&dest).unwrap();
    let _ = loci::extract::unpack(data, &dest, "WHEELS=fuzz");
    let mut names: Vec<String> = std::fs::read_dir(root)
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    names.sort();
    assert_eq!(
        names,
        ["dest"],
        "something was written outside the destination"
    );
}

proptest! {
    #![proptest_config(config())]

    #[test]
    fn the_archive_reader_survives_any_bytes(data in proptest::collection::vec(any::<u8>(), 0..4096)) {
        let root = tempfile::tempdir().unwrap();
        check_archive(root.path(), &data);
    }

    #[test]
    fn the_archive_reader_never_escapes(
        members in proptest::collection::vec(member(), 0..8),
        flips in proptest::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 0..6),
        compress in any::<bool>(),
    ) {
        let root = tempfile::tempdir().unwrap();
        let mut data = tarball(&members, root.path());
        // Damage a few bytes (headers, sizes, checksums, names).
        if !data.is_empty() {
            for (i, b) in &flips {
                let i = i.index(data.len());
                data[i] = *b;
            }
        }
        if compress {
            data = gzip(&data);
        }
        check_archive(root.path(), &data);
    }
}
