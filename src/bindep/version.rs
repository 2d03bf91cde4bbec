//! Version comparisons bindep makes: Debian-style comparison of installed package versions
//! against constraints (`_eval`), and the PEP 440 comparison of the distro release
//! (`packaging.version.parse`) that decides between `base-py2` and `base-py3`.

use std::cmp::Ordering;

use super::parse::parse_debversion;

/// `_eval(installed, operator, constraint)`. `Err` when a version does not parse, where bindep
/// raises a ParseError.
pub(crate) fn eval(installed: &str, op: &str, constraint: &str) -> Result<bool, String> {
    match op {
        "==" => return Ok(installed == constraint),
        "!=" => return Ok(installed != constraint),
        _ => {}
    }
    let c = parse_debversion(constraint)
        .ok_or_else(|| format!("version constraint {constraint:?} is not a valid version"))?;
    let i = parse_debversion(installed)
        .ok_or_else(|| format!("installed version {installed:?} is not a valid version"))?;
    let mut diff = cmp_int(&i.epoch, &c.epoch);
    if diff == Ordering::Equal {
        diff = cmp_segment(&i.upstream, &c.upstream);
    }
    if diff == Ordering::Equal {
        diff = cmp_segment(&i.revision, &c.revision);
    }
    Ok(match op {
        "<" => diff.is_lt(),
        "<=" => diff.is_le(),
        ">" => diff.is_gt(),
        ">=" => diff.is_ge(),
        _ => false,
    })
}

/// Compares two strings of decimal digits as integers (any length).
fn cmp_int(a: &str, b: &str) -> Ordering {
    let a = a.trim_start_matches('0');
    let b = b.trim_start_matches('0');
    a.len().cmp(&b.len()).then_with(|| a.cmp(b))
}

/// `_to_ord`: letters sort before non-letters, `~` before everything, end of part in between.
fn to_ord(c: Option<char>) -> i64 {
    match c {
        None => 1,
        Some(c) if c.is_ascii_digit() => 1,
        Some('~') => 0,
        Some(c) => {
            let o = c as i64;
            if o < 65 {
                o + 100
            } else {
                o
            }
        }
    }
}

/// `_find_int`: the run of digits at `offset` (0 when there is none) and the offset after it.
fn find_int(s: &[char], offset: usize) -> (String, usize) {
    let mut end = offset;
    while end < s.len() && s[end].is_ascii_digit() {
        end += 1;
    }
    (s[offset..end].iter().collect(), end)
}

/// `_cmp_segment`, ported literally.
fn cmp_segment(l: &str, r: &str) -> Ordering {
    let l: Vec<char> = l.chars().collect();
    let r: Vec<char> = r.chars().collect();
    let (mut lo, mut ro) = (0usize, 0usize);
    while ro < r.len() || lo < l.len() {
        let rc = r.get(ro).copied();
        let lc = l.get(lo).copied();
        let digitish = |c: Option<char>| c.is_none() || c.is_some_and(|c| c.is_ascii_digit());
        if digitish(rc) && digitish(lc) {
            let (li, lo2) = find_int(&l, lo);
            let (ri, ro2) = find_int(&r, ro);
            lo = lo2;
            ro = ro2;
            let d = cmp_int(&li, &ri);
            if d != Ordering::Equal {
                return d;
            }
        }
        let d = to_ord(lc).cmp(&to_ord(rc));
        if d != Ordering::Equal {
            return d;
        }
        if !lc.is_some_and(|c| c.is_ascii_digit()) && lo < l.len() {
            lo += 1;
        }
        if !rc.is_some_and(|c| c.is_ascii_digit()) && ro < r.len() {
            ro += 1;
        }
    }
    Ordering::Equal
}

/// A PEP 440 version as `packaging.version.Version` orders it.
#[derive(Debug, Clone)]
pub(crate) struct Pep440 {
    epoch: u64,
    release: Vec<u64>,
    pre: Option<(u8, u64)>,
    post: Option<u64>,
    dev: Option<u64>,
    local: Option<Vec<LocalPart>>,
}

#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
enum LocalPart {
    // packaging sorts strings before integers in local segments
    Str(String),
    Int(u64),
}

/// Parses `s` as `packaging.version.parse` does; `None` for an `InvalidVersion`.
pub(crate) fn pep440(s: &str) -> Option<Pep440> {
    let s = s.trim().to_ascii_lowercase();
    let b: Vec<char> = s.chars().collect();
    let mut p = 0;
    let num = |p: &mut usize| -> Option<u64> {
        let start = *p;
        while *p < b.len() && b[*p].is_ascii_digit() {
            *p += 1;
        }
        if *p == start {
            return None;
        }
        b[start..*p].iter().collect::<String>().parse().ok()
    };
    let sep = |p: &mut usize| {
        if *p < b.len() && "-_.".contains(b[*p]) {
            *p += 1;
        }
    };
    let word = |p: usize, words: &[&str]| -> Option<(usize, String)> {
        words.iter().find_map(|w| {
            let wc: Vec<char> = w.chars().collect();
            (b.len() >= p + wc.len() && b[p..p + wc.len()] == wc[..])
                .then(|| (p + wc.len(), w.to_string()))
        })
    };
    if b.get(p) == Some(&'v') {
        p += 1;
    }
    // epoch
    let mut epoch = 0;
    {
        let mut q = p;
        if let Some(n) = num(&mut q) {
            if b.get(q) == Some(&'!') {
                epoch = n;
                p = q + 1;
            }
        }
    }
    let mut release = vec![num(&mut p)?];
    while b.get(p) == Some(&'.') && b.get(p + 1).is_some_and(|c| c.is_ascii_digit()) {
        p += 1;
        release.push(num(&mut p)?);
    }
    // pre
    let mut pre = None;
    {
        let mut q = p;
        sep(&mut q);
        if let Some((q2, w)) = word(q, &["alpha", "a", "beta", "b", "preview", "pre", "c", "rc"]) {
            let mut q3 = q2;
            sep(&mut q3);
            let mut q4 = q3;
            let n = match num(&mut q4) {
                Some(n) => {
                    p = q4;
                    n
                }
                None => {
                    p = q2;
                    0
                }
            };
            let kind = match w.as_str() {
                "alpha" | "a" => 0,
                "beta" | "b" => 1,
                _ => 2,
            };
            pre = Some((kind, n));
        }
    }
    // post
    let mut post = None;
    {
        let mut q = p;
        if b.get(q) == Some(&'-') {
            let mut q2 = q + 1;
            if let Some(n) = num(&mut q2) {
                post = Some(n);
                p = q2;
            }
        }
        if post.is_none() {
            sep(&mut q);
            if let Some((q2, _)) = word(q, &["post", "rev", "r"]) {
                let mut q3 = q2;
                sep(&mut q3);
                let mut q4 = q3;
                match num(&mut q4) {
                    Some(n) => {
                        post = Some(n);
                        p = q4;
                    }
                    None => {
                        post = Some(0);
                        p = q2;
                    }
                }
            }
        }
    }
    // dev
    let mut dev = None;
    {
        let mut q = p;
        sep(&mut q);
        if let Some((q2, _)) = word(q, &["dev"]) {
            let mut q3 = q2;
            sep(&mut q3);
            let mut q4 = q3;
            match num(&mut q4) {
                Some(n) => {
                    dev = Some(n);
                    p = q4;
                }
                None => {
                    dev = Some(0);
                    p = q2;
                }
            }
        }
    }
    // local
    let mut local = None;
    if b.get(p) == Some(&'+') {
        let rest: String = b[p + 1..].iter().collect();
        let mut parts = Vec::new();
        for part in rest.split(['-', '_', '.']) {
            if part.is_empty() || !part.chars().all(|c| c.is_ascii_alphanumeric()) {
                return None;
            }
            parts.push(match part.parse::<u64>() {
                Ok(n) if part.chars().all(|c| c.is_ascii_digit()) => LocalPart::Int(n),
                _ => LocalPart::Str(part.to_string()),
            });
        }
        local = Some(parts);
        p = b.len();
    }
    if p != b.len() {
        return None;
    }
    Some(Pep440 {
        epoch,
        release,
        pre,
        post,
        dev,
        local,
    })
}

impl Pep440 {
    /// packaging's `_cmpkey`.
    #[allow(clippy::type_complexity)]
    fn key(
        &self,
    ) -> (
        u64,
        Vec<u64>,
        (i8, u8, u64),
        (i8, u64),
        (i8, u64),
        (i8, Vec<LocalPart>),
    ) {
        let mut release = self.release.clone();
        while release.len() > 1 && release.last() == Some(&0) {
            release.pop();
        }
        if release == [0] {
            release.clear();
        }
        // pre: dev-only releases sort before pre-releases; no pre sorts after all pre-releases
        let pre = match (self.pre, self.post, self.dev) {
            (None, None, Some(_)) => (-1, 0, 0),
            (None, _, _) => (1, 0, 0),
            (Some((k, n)), _, _) => (0, k, n),
        };
        let post = match self.post {
            None => (-1, 0),
            Some(n) => (0, n),
        };
        let dev = match self.dev {
            None => (1, 0),
            Some(n) => (0, n),
        };
        let local = match &self.local {
            None => (-1, Vec::new()),
            Some(l) => (0, l.clone()),
        };
        (self.epoch, release, pre, post, dev, local)
    }
}

impl PartialEq for Pep440 {
    fn eq(&self, other: &Self) -> bool {
        self.key() == other.key()
    }
}

impl Eq for Pep440 {}

impl PartialOrd for Pep440 {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for Pep440 {
    fn cmp(&self, other: &Self) -> Ordering {
        self.key().cmp(&other.key())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debian_comparisons() {
        assert!(eval("1.0", ">=", "1.0").unwrap());
        assert!(eval("1.10", ">", "1.9").unwrap());
        assert!(eval("1.0~rc1", "<", "1.0").unwrap());
        assert!(eval("1:0.5", ">", "2.0").unwrap());
        assert!(eval("2.9.14+dfsg-1.3", ">=", "2.9.14-1").unwrap());
        assert!(eval("1.0a", ">", "1.0").unwrap());
        assert!(eval("1.0-1", "<", "1.0-2").unwrap());
        assert!(!eval("1.0", "==", "1.0-0").unwrap());
        assert!(eval("junk", ">", "1.0").is_err());
    }

    #[test]
    fn pep440_ordering() {
        let v = |s| pep440(s).unwrap();
        assert!(v("22.04") >= v("16.04"));
        assert!(v("9.4") >= v("8"));
        assert!(v("7.9") < v("8"));
        assert!(v("8.0") == v("8"));
        assert!(v("8rc1") < v("8"));
        assert!(v("8.dev0") < v("8rc1"));
        assert!(v("8.post1") > v("8"));
        assert!(v("1!1") > v("8"));
        assert!(v("8+local") > v("8"));
        assert!(pep440("").is_none());
        assert!(pep440("trixie/sid").is_none());
        assert!(pep440("rolling").is_none());
    }
}
