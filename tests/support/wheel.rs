//! Wheels for tests: real zip archives (stored, with CRCs) holding a `.dist-info/METADATA`, as
//! an index would serve them. Shared by the library's unit tests and the integration tests.

#![allow(dead_code)]

/// A zip archive of `members` (name, content), uncompressed.
pub fn zip(members: &[(&str, &[u8])]) -> Vec<u8> {
    let mut out = Vec::new();
    let mut central = Vec::new();
    for (name, data) in members {
        let mut crc = flate2::Crc::new();
        crc.update(data);
        let offset = out.len() as u32;
        let fixed = |sig: u32, central: bool| {
            let mut h = Vec::new();
            h.extend_from_slice(&sig.to_le_bytes());
            if central {
                h.extend_from_slice(&20u16.to_le_bytes()); // made by
            }
            h.extend_from_slice(&20u16.to_le_bytes()); // needed
            h.extend_from_slice(&[0; 6]); // flags, method, time
            h.extend_from_slice(&0x21u16.to_le_bytes()); // date 1980-01-01
            h.extend_from_slice(&crc.sum().to_le_bytes());
            h.extend_from_slice(&(data.len() as u32).to_le_bytes());
            h.extend_from_slice(&(data.len() as u32).to_le_bytes());
            h.extend_from_slice(&(name.len() as u16).to_le_bytes());
            h.extend_from_slice(&0u16.to_le_bytes()); // extra
            if central {
                h.extend_from_slice(&[0; 6]); // comment, disk, internal attributes
                h.extend_from_slice(&0u32.to_le_bytes()); // external attributes
                h.extend_from_slice(&offset.to_le_bytes());
            }
            h.extend_from_slice(name.as_bytes());
            h
        };
        out.extend(fixed(0x0403_4b50, false));
        out.extend_from_slice(data);
        central.extend(fixed(0x0201_4b50, true));
    }
    let cd_offset = out.len() as u32;
    let count = members.len() as u16;
    out.extend_from_slice(&central);
    out.extend_from_slice(&0x0605_4b50u32.to_le_bytes());
    out.extend_from_slice(&[0, 0, 0, 0]); // disks
    out.extend_from_slice(&count.to_le_bytes());
    out.extend_from_slice(&count.to_le_bytes());
    out.extend_from_slice(&(central.len() as u32).to_le_bytes());
    out.extend_from_slice(&cd_offset.to_le_bytes());
    out.extend_from_slice(&0u16.to_le_bytes());
    out
}

/// A wheel of `name` `version` (its dist-info named as bdist_wheel names it).
pub fn wheel(name: &str, version: &str) -> Vec<u8> {
    let dist = name.replace(['-', '.'], "_");
    let metadata = format!("Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n");
    zip(&[
        (&format!("{dist}/__init__.py"), b"" as &[u8]),
        (
            &format!("{dist}-{version}.dist-info/METADATA"),
            metadata.as_bytes(),
        ),
        (
            &format!("{dist}-{version}.dist-info/WHEEL"),
            b"Wheel-Version: 1.0\nRoot-Is-Purelib: true\nTag: py3-none-any\n",
        ),
    ])
}

/// `len` bytes that do not compress (so that an archive is as big as its content).
pub fn noise(len: usize, seed: u8) -> Vec<u8> {
    use sha2::Digest;
    let mut out = Vec::with_capacity(len + 32);
    let mut block = sha2::Sha256::digest([seed]).to_vec();
    while out.len() < len {
        block = sha2::Sha256::digest(&block).to_vec();
        out.extend_from_slice(&block);
    }
    out.truncate(len);
    out
}

/// A wheels archive as loci fetches one (tar.gz): upper-constraints.txt and `files` (name,
/// content).
pub fn wheels_archive(files: &[(String, Vec<u8>)]) -> Vec<u8> {
    let gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    let mut tar = tar::Builder::new(gz);
    let mut add = |name: &str, data: &[u8]| {
        let mut h = tar::Header::new_gnu();
        h.set_size(data.len() as u64);
        h.set_mode(0o644);
        h.set_cksum();
        tar.append_data(&mut h, name, data).unwrap();
    };
    add("upper-constraints.txt", b"six===1.17.0\n");
    for (n, d) in files {
        add(n, d);
    }
    tar.into_inner().unwrap().finish().unwrap()
}
