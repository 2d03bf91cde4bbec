//! Unit tests of the grammar, the evaluation and the platform profiles. The differential test
//! (`tests/bindep_differential.rs`) checks the same against the real bindep on a large corpus.

use super::*;

fn parse(text: &str) -> BindepFile {
    BindepFile::parse("t.txt", text).unwrap_or_else(|e| panic!("{text:?} should parse: {e}"))
}

fn parse_err(text: &str) -> String {
    match BindepFile::parse("t.txt", text) {
        Ok(f) => panic!("{text:?} should not parse, got {:?}", f.rules),
        Err(e) => e.to_string(),
    }
}

fn os(text: &str) -> Platform {
    Platform::from_os_release(&OsRelease::parse(text))
}

fn bookworm() -> Platform {
    os("ID=debian\nVERSION_ID=\"12\"\nVERSION_CODENAME=bookworm\nPRETTY_NAME=\"Debian GNU/Linux 12 (bookworm)\"\n")
}

fn rocky() -> Platform {
    os("NAME=\"Rocky Linux\"\nID=\"rocky\"\nID_LIKE=\"rhel centos fedora\"\nVERSION=\"9.5 (Blue Onyx)\"\nVERSION_ID=\"9.5\"\n")
}

fn pkgs(text: &str, platform: &Platform, profiles: &[&str]) -> Vec<String> {
    let profiles: Vec<String> = profiles.iter().map(|s| s.to_string()).collect();
    parse(text).packages(platform, &profiles)
}

#[test]
fn parses_names_selectors_and_versions() {
    let f =
        parse("foo [platform:dpkg !nova (a !b) ()] >=1.0,<2:3-1 # why\n# comment\n\n   \nbar\n");
    assert_eq!(f.rules.len(), 2);
    let r = &f.rules[0];
    assert_eq!(r.name, "foo");
    assert_eq!(r.line, 1);
    assert_eq!(
        r.selectors,
        vec![
            Selector::Profile {
                positive: true,
                name: "platform:dpkg".into()
            },
            Selector::Profile {
                positive: false,
                name: "nova".into()
            },
            Selector::Group(vec![(true, "a".into()), (false, "b".into())]),
            Selector::Group(vec![]),
        ]
    );
    assert_eq!(
        r.versions,
        vec![
            VersionConstraint {
                op: ">=".into(),
                version: "1.0".into()
            },
            VersionConstraint {
                op: "<".into(),
                version: "2:3-1".into()
            },
        ]
    );
    assert_eq!(f.rules[1].name, "bar");
    assert_eq!(f.rules[1].line, 5);
}

#[test]
fn accepts_what_the_peg_grammar_accepts() {
    // a comment right after the name, groups without spaces between them, spaces inside brackets,
    // several spaces before the selector, no final newline, CRLF
    for text in [
        "foo#c",
        "foo [(a)(b)!c!d]",
        "foo [  a   b  ]",
        "foo   [a]",
        "foo []",
        "/usr/bin/x",
        "a.b+c_d-e/f",
        "foo\r\nbar\r\n",
        "foo [a] <=1.0-1-2",
    ] {
        parse(text);
    }
    assert_eq!(parse("foo#c").rules[0].name, "foo");
    assert_eq!(
        parse("foo [a] <=1.0-1-2").rules[0].versions[0].version,
        "1.0-1-2"
    );
    assert_eq!(parse("foo\r\nbar\rbaz").rules.len(), 3);
}

#[test]
fn rejects_what_the_peg_grammar_rejects() {
    for text in [
        "x\n",             // names have two characters at least
        " foo\n",          // no leading white space
        "foo \n",          // no trailing white space
        "foo\t[a]\n",      // tabs are not white space
        "foo[a]\n",        // the selector needs a space before it
        "foo [A]\n",       // profiles are lower case
        "foo [a_b]\n",     // and have no underscores
        "foo [a\n",        // unclosed selector
        "foo [(a]\n",      // unclosed group
        "foo [((a))]\n",   // no nested groups
        "foo [a] [b]\n",   // one selector
        "foo >= 1.0\n",    // no space after the operator
        "foo >=1.0 [a]\n", // selector before versions
        "foo >=1.0,\n",    // dangling comma
        "foo >=a\n",       // versions start with a digit
        "foo >=1:a\n",     // an epoch must be followed by a version
        "foo >=1.0-\n",    // a revision after '-'
        "foo [! a]\n",     // '!' sticks to the profile
    ] {
        parse_err(text);
    }
}

#[test]
fn parse_errors_name_file_line_and_expectation() {
    let e = parse_err("good [a]\n# fine\nbad [a b\n");
    assert!(
        e.starts_with("t.txt:3:9: bindep syntax error: expected a profile name"),
        "{e}"
    );
    assert!(e.contains("bad [a b\n"), "{e}");
    assert!(e.contains("hint:"), "{e}");
    let e = parse_err("ok\nfoo \n");
    assert!(e.starts_with("t.txt:2:5:"), "{e}");
    assert!(e.contains("end of line"), "{e}");
    let e = parse_err("ok\nx\n");
    assert!(e.starts_with("t.txt:2:2:"), "{e}");
    assert!(e.contains("two characters"), "{e}");
    let e = parse_err("foo >= 1.0\n");
    assert!(e.starts_with("t.txt:1:"), "{e}");
}

#[test]
fn a_huge_bad_line_is_cut_in_the_message() {
    // 10 MB of a name, then a tab where a space or the end of line belongs.
    let line = format!("{}\tjunk", "a".repeat(10 << 20));
    let started = std::time::Instant::now();
    let e = parse_err(&format!("ok\n{line}\n"));
    assert!(started.elapsed() < std::time::Duration::from_secs(20));
    assert!(
        e.starts_with(&format!("t.txt:2:{}:", (10 << 20) + 1)),
        "{}",
        &e[..100]
    );
    assert!(e.len() < 2000, "{} bytes", e.len());
    // A window around the error, the caret under the tab.
    let caused = e.lines().find(|l| l.contains('\t')).unwrap();
    let caret = e.lines().find(|l| l.trim() == "^").unwrap();
    assert!(caused.trim_start().starts_with('…'), "{caused}");
    let tab = caused.chars().position(|c| c == '\t').unwrap();
    assert_eq!(
        caret.chars().position(|c| c == '^'),
        Some(tab),
        "{caused}\n{caret}"
    );
    // A long line failing early is cut at its end.
    let e = parse_err(&format!("x{}\n", " y".repeat(1 << 20)));
    assert!(e.len() < 2000, "{} bytes", e.len());
    assert!(e.contains('…'), "{e}");
}

#[test]
fn profiles_lists_user_profiles_sorted_including_grouped_platforms() {
    let f = parse("a1 [platform:dpkg zed (nova platform:rpm) !ceph]\nb1 [alpha]\n");
    assert_eq!(
        f.profiles(),
        vec!["alpha", "ceph", "nova", "platform:rpm", "zed"]
    );
}

#[test]
fn empty_selector_and_no_selector_are_always_active() {
    let text = "libxml2 []\nplain\nspaced [ ]\n";
    assert_eq!(
        pkgs(text, &bookworm(), &[]),
        vec!["libxml2", "plain", "spaced"]
    );
    assert_eq!(
        pkgs(text, &rocky(), &["nova"]),
        vec!["libxml2", "plain", "spaced"]
    );
}

#[test]
fn default_profile_applies_only_without_profiles() {
    let text = "d1 [default]\nn1 [!default]\n";
    assert_eq!(pkgs(text, &bookworm(), &[]), vec!["d1"]);
    assert_eq!(pkgs(text, &bookworm(), &["nova"]), vec!["n1"]);
}

#[test]
fn platform_and_user_parts_must_both_agree() {
    let text = "\
both [platform:dpkg nova]
plat [platform:rpm]
negplat [!platform:rpm]
neguser [!nova]
negonly-platform-user [!platform:dpkg nova]
group [(nova ceph) (cinder ceph)]
groupneg [(nova !ceph)]
grouped-platform [(platform:rpm nova)]
mixed [nova (cinder ceph)]
";
    // (expected lists as printed by bindep 2.14 for the same file and profiles)
    assert_eq!(
        pkgs(text, &bookworm(), &["nova"]),
        vec!["both", "negplat", "groupneg", "mixed"]
    );
    assert_eq!(
        pkgs(text, &bookworm(), &["nova", "ceph"]),
        vec!["both", "negplat", "group", "mixed"]
    );
    assert_eq!(
        pkgs(text, &bookworm(), &["cinder", "ceph"]),
        vec!["negplat", "neguser", "group", "mixed"]
    );
    assert_eq!(
        pkgs(text, &rocky(), &["nova"]),
        vec![
            "plat",
            "negonly-platform-user",
            "groupneg",
            "grouped-platform",
            "mixed"
        ]
    );
    // no user profile asked for and none negated: platform alone decides
    assert_eq!(pkgs(text, &rocky(), &["other"]), vec!["plat", "neguser"]);
}

#[test]
fn negation_wins_over_a_positive_match() {
    let text = "x1 [nova !ceph]\nx2 [(nova) !ceph]\n";
    assert_eq!(
        pkgs(text, &bookworm(), &["nova", "ceph"]),
        Vec::<String>::new()
    );
    assert_eq!(pkgs(text, &bookworm(), &["nova"]), vec!["x1", "x2"]);
}

#[test]
fn loci_keystone_ldap_lines() {
    let text = "\
libldap-2.4-2 [platform:dpkg (keystone ldap !jammy !noble)]
libldap-2.5-0 [platform:dpkg (keystone ldap jammy)]
libldap2 [platform:dpkg (keystone ldap noble)]
libxml2 []
";
    assert_eq!(
        pkgs(text, &bookworm(), &["keystone", "ldap", "bookworm"]),
        vec!["libldap-2.4-2", "libxml2"]
    );
    assert_eq!(
        pkgs(text, &bookworm(), &["keystone", "ldap", "jammy"]),
        vec!["libldap-2.5-0", "libxml2"]
    );
    assert_eq!(pkgs(text, &rocky(), &["keystone", "ldap"]), vec!["libxml2"]);
}

#[test]
fn platform_profiles_of_loci_distros() {
    let p = |o: &Platform| o.profiles.join(" ");
    assert_eq!(
        p(&bookworm()),
        "platform:base-py3 platform:debian platform:debian-12 platform:debian-bookworm platform:dpkg"
    );
    assert_eq!(
        p(&rocky()),
        "platform:base-py3 platform:redhat platform:rocky platform:rocky-9 platform:rocky-9.5 \
         platform:rocky-blue platform:rocky-blue-onyx platform:rpm"
    );
    let centos = os("NAME=\"CentOS Stream\"\nVERSION=\"9\"\nID=\"centos\"\nVERSION_ID=\"9\"\n");
    assert_eq!(
        p(&centos),
        "platform:base-py3 platform:centos platform:centos-9 platform:redhat platform:rpm"
    );
    let noble = os("ID=ubuntu\nID_LIKE=debian\nVERSION_ID=\"24.04\"\nVERSION_CODENAME=noble\n");
    assert_eq!(
        p(&noble),
        "platform:base-py3 platform:dpkg platform:ubuntu platform:ubuntu-24 platform:ubuntu-24.04 \
         platform:ubuntu-noble"
    );
    assert_eq!(noble.package_db, PackageDb::Dpkg);
    assert!(noble.error.is_none());
}

#[test]
fn platform_profiles_follow_distro_quirks() {
    // Debian sid: no VERSION_ID, the release comes from /etc/debian_version when known
    let sid = "ID=debian\nVERSION_CODENAME=trixie\nPRETTY_NAME=\"Debian GNU/Linux trixie/sid\"\n";
    let p = os(sid);
    assert!(
        p.profiles.contains(&"platform:debian-".to_string()),
        "{:?}",
        p.profiles
    );
    assert!(p.profiles.contains(&"platform:base-py3".to_string()));
    let p = Platform::from_os_release_with(&OsRelease::parse(sid), Some("trixie/sid\n"));
    assert!(
        p.profiles
            .contains(&"platform:debian-trixie/sid".to_string()),
        "{:?}",
        p.profiles
    );
    // the version in PRETTY_NAME, the codename in VERSION after a comma
    let p = os("ID=frob\nVERSION=\"3 beta, Blue Moon\"\nPRETTY_NAME=\"Frob release 3.1.7 (x)\"\n");
    assert_eq!(
        p.profiles.join(" "),
        "platform:frob platform:frob-3 platform:frob-3.1 platform:frob-3.1.7 platform:frob-blue platform:frob-blue-moon"
    );
    // Oracle Linux is normalised to `oracle`; old CentOS is base-py2
    assert!(os("ID=ol\nVERSION_ID=9.4\n")
        .profiles
        .contains(&"platform:oracle-9.4".to_string()));
    assert!(os("ID=centos\nVERSION_ID=7\n")
        .profiles
        .contains(&"platform:base-py2".to_string()));
    // bindep crashes on these; we report an error instead
    assert!(os("ID=rocky\n").error.is_some());
    assert!(os("NAME=x\n").error.is_some());
}

#[test]
fn codename_and_release_line_parsing() {
    assert_eq!(
        codename_from_version("22.04.5 LTS (Jammy Jellyfish)").as_deref(),
        Some("Jammy Jellyfish")
    );
    assert_eq!(
        codename_from_version("14.04.6 LTS, Trusty Tahr").as_deref(),
        Some("Trusty Tahr")
    );
    assert_eq!(codename_from_version("9"), None);
    assert_eq!(codename_from_version("1, 2").as_deref(), Some(" "));
    assert_eq!(
        version_from_release_line("CentOS Linux release 7.9.2009 (Core)").as_deref(),
        Some("7.9.2009")
    );
    assert_eq!(
        version_from_release_line("Ubuntu 22.04.5 LTS").as_deref(),
        Some("22.04.5")
    );
    assert_eq!(
        version_from_release_line("Debian GNU/Linux trixie/sid"),
        None
    );
    assert_eq!(version_from_release_line("Arch Linux"), None);
}
