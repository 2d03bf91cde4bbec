//! What a downloaded wheel holds: its zip central directory read (a truncated file fails), its
//! `.dist-info` checked against its name.

use std::io::Read;

use super::WheelName;
use crate::constraints::normalize;

/// Checks that `file` is the wheel `wheel` names: a zip archive (its central directory is
/// read, so a truncated file fails) holding `NAME-VERSION.dist-info/METADATA` of that name and
/// version. Why not, else.
pub fn check_wheel(file: &mut std::fs::File, wheel: &WheelName) -> std::result::Result<(), String> {
    let names = zip_names(file)?;
    let mut found = Vec::new();
    for n in &names {
        let Some(dir) = n.strip_suffix(".dist-info/METADATA") else {
            continue;
        };
        if dir.contains('/') {
            continue;
        }
        let Some((name, version)) = dir.split_once('-') else {
            continue;
        };
        if normalize(name) == normalize(&wheel.name) && same_version(version, &wheel.version) {
            return Ok(());
        }
        found.push(format!("{dir}.dist-info"));
    }
    if found.is_empty() {
        Err(format!(
            "the archive ({} members) has no .dist-info/METADATA at its root",
            names.len()
        ))
    } else {
        Err(format!(
            "the archive holds {}, not {}-{}",
            found.join(", "),
            wheel.name,
            wheel.version
        ))
    }
}

/// Versions as wheel names and .dist-info directories write them (case, `_` for `-`).
fn same_version(a: &str, b: &str) -> bool {
    let n = |v: &str| v.to_ascii_lowercase().replace('_', "-");
    n(a) == n(b)
}

/// The member names of a zip archive, from its central directory (zip64 included); why not,
/// for a file that is no whole zip archive (truncated: no end of central directory).
pub fn zip_names(file: &mut std::fs::File) -> std::result::Result<Vec<String>, String> {
    use std::io::{Seek, SeekFrom};
    let io = |e: std::io::Error| format!("cannot read the file: {e}");
    let len = file.seek(SeekFrom::End(0)).map_err(io)?;
    // The end-of-central-directory record: 22 bytes, plus a comment of up to 64 KiB.
    let tail_len = len.min(22 + 65_535 + 20);
    let mut tail = vec![0u8; tail_len as usize];
    file.seek(SeekFrom::Start(len - tail_len)).map_err(io)?;
    file.read_exact(&mut tail).map_err(io)?;
    let eocd = (0..tail.len().saturating_sub(21))
        .rev()
        .find(|&i| tail[i..i + 4] == [0x50, 0x4b, 0x05, 0x06])
        .ok_or("not a zip archive (no end of central directory: truncated?)")?;
    let u16_at = |b: &[u8], i: usize| u64::from(u16::from_le_bytes([b[i], b[i + 1]]));
    let u32_at =
        |b: &[u8], i: usize| u64::from(u32::from_le_bytes([b[i], b[i + 1], b[i + 2], b[i + 3]]));
    let u64_at = |b: &[u8], i: usize| {
        let mut a = [0u8; 8];
        a.copy_from_slice(&b[i..i + 8]);
        u64::from_le_bytes(a)
    };
    let (mut entries, mut cd_size, mut cd_offset) = (
        u16_at(&tail, eocd + 10),
        u32_at(&tail, eocd + 12),
        u32_at(&tail, eocd + 16),
    );
    if entries == 0xffff || cd_size == 0xffff_ffff || cd_offset == 0xffff_ffff {
        // Zip64: the locator sits right before the record.
        let loc = eocd
            .checked_sub(20)
            .filter(|&l| tail[l..l + 4] == [0x50, 0x4b, 0x06, 0x07])
            .ok_or("a zip64 archive without its locator")?;
        let rec_at = u64_at(&tail, loc + 8);
        let mut rec = [0u8; 56];
        file.seek(SeekFrom::Start(rec_at)).map_err(io)?;
        file.read_exact(&mut rec).map_err(io)?;
        if rec[..4] != [0x50, 0x4b, 0x06, 0x06] {
            return Err("a zip64 archive without its end record".into());
        }
        entries = u64_at(&rec, 32);
        cd_size = u64_at(&rec, 40);
        cd_offset = u64_at(&rec, 48);
    }
    if cd_offset.checked_add(cd_size).is_none_or(|end| end > len) || cd_size > 256 << 20 {
        return Err("the central directory lies outside the file (truncated?)".into());
    }
    let mut cd = vec![0u8; cd_size as usize];
    file.seek(SeekFrom::Start(cd_offset)).map_err(io)?;
    file.read_exact(&mut cd).map_err(io)?;
    let mut names = Vec::new();
    let mut i = 0usize;
    while i + 46 <= cd.len() {
        if cd[i..i + 4] != [0x50, 0x4b, 0x01, 0x02] {
            return Err(format!(
                "a corrupt central directory (at entry {})",
                names.len()
            ));
        }
        let name_len = u16_at(&cd, i + 28) as usize;
        let extra_len = u16_at(&cd, i + 30) as usize;
        let comment_len = u16_at(&cd, i + 32) as usize;
        let name = cd
            .get(i + 46..i + 46 + name_len)
            .ok_or("a corrupt central directory (a name runs past it)")?;
        names.push(String::from_utf8_lossy(name).into_owned());
        i += 46 + name_len + extra_len + comment_len;
    }
    if names.len() as u64 != entries {
        return Err(format!(
            "the central directory lists {} members, the archive says {entries}",
            names.len()
        ));
    }
    Ok(names)
}
