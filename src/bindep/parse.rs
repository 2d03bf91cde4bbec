//! The bindep file grammar, ported rule by rule from bindep 2.14's Parsley (PEG) grammar.
//!
//! ```text
//! rules = (rule|comment|blank)*
//! rule = <name>:name selector?:selector version?:version ('\n'|comment)
//! name = (letterOrDigit|'/') (letterOrDigit|'.'|'+'|'-'|'_'|'/')+
//! ws = ' '+
//! profile = '!'? <(lowercase|digit|':'|'-'|'.')+>
//! profiles = '(' (ws? profile)* ws? ')'
//! group = profiles | profile
//! selector = ws '[' (ws? group)* ws? ']'
//! oneversion = <('<=' | '<' | '!=' | '==' | '>=' | '>')> <debversion>
//! version = ws oneversion (',' oneversion)*
//! comment = ws? '#' any* '\n'
//! blank = ws? '\n'
//! ```
//!
//! PEG semantics matter: repetitions are greedy and never give characters back, an optional
//! element that matched is not retried as absent, and lookahead (`~~`) consumes nothing. Every
//! alternative ends at a newline and no rule reads past one, so the file is parsed line by line,
//! and like Parsley's `rules()` any line that is neither a rule, a comment nor a blank is an error.
//!
//! Character classes follow Python: `letterOrDigit` is `str.isalnum`, `digit` is `str.isdigit`
//! (approximated for non-ASCII characters by Rust's Unicode properties).

/// One element of a `[...]` selector.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Selector {
    /// `name` or `!name` (`positive` is false for `!`).
    Profile { positive: bool, name: String },
    /// `(a !b c)`: all must hold. Always counted as a user selector, even with `platform:` names.
    Group(Vec<(bool, String)>),
}

/// A version constraint such as `>=1.0`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VersionConstraint {
    pub op: String,
    pub version: String,
}

/// One package line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rule {
    pub name: String,
    pub selectors: Vec<Selector>,
    pub versions: Vec<VersionConstraint>,
    /// 1-based line number in the file.
    pub line: usize,
}

/// Python's `str.isalnum` (exact for ASCII).
pub(crate) fn is_alnum(c: char) -> bool {
    c.is_alphanumeric()
}

/// Python's `str.isdigit` (exact for ASCII).
pub(crate) fn is_digit(c: char) -> bool {
    c.is_ascii_digit() || (!c.is_ascii() && c.is_numeric())
}

/// Where and why a line failed to parse.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LineError {
    /// 0-based character column of the failure.
    pub column: usize,
    /// What the grammar expected there.
    pub expected: String,
}

/// A cursor over one line (without its newline); `None` past the end stands for the newline.
struct Cursor<'a> {
    chars: &'a [char],
    pos: usize,
    /// The furthest failure seen, for the error message.
    fail_pos: usize,
    fail_what: String,
}

impl<'a> Cursor<'a> {
    fn new(chars: &'a [char]) -> Self {
        Cursor {
            chars,
            pos: 0,
            fail_pos: 0,
            fail_what: String::new(),
        }
    }

    fn peek(&self) -> Option<char> {
        self.chars.get(self.pos).copied()
    }

    fn at(&self, pos: usize) -> Option<char> {
        self.chars.get(pos).copied()
    }

    fn fail(&mut self, pos: usize, what: &str) {
        if pos >= self.fail_pos || self.fail_what.is_empty() {
            self.fail_pos = pos;
            self.fail_what = what.to_string();
        }
    }

    fn eat(&mut self, c: char) -> bool {
        if self.peek() == Some(c) {
            self.pos += 1;
            true
        } else {
            false
        }
    }

    /// `ws = ' '+`
    fn ws(&mut self) -> bool {
        let start = self.pos;
        while self.eat(' ') {}
        self.pos > start
    }

    fn text(&self, from: usize) -> String {
        self.chars[from..self.pos].iter().collect()
    }
}

/// Parses one line (without its newline). `Ok(None)` is a comment or blank line.
pub(crate) fn parse_line(line: &str, line_no: usize) -> Result<Option<Rule>, LineError> {
    let chars: Vec<char> = line.chars().collect();
    let mut c = Cursor::new(&chars);
    if let Some(rule) = rule(&mut c, line_no) {
        return Ok(Some(rule));
    }
    // comment | blank, both starting with `ws?`
    let mut k = Cursor::new(&chars);
    k.ws();
    if k.peek().is_none() || k.peek() == Some('#') {
        return Ok(None);
    }
    Err(LineError {
        column: c.fail_pos,
        expected: if c.fail_what.is_empty() {
            "a package name".to_string()
        } else {
            c.fail_what
        },
    })
}

fn rule(c: &mut Cursor, line_no: usize) -> Option<Rule> {
    // name
    let start = c.pos;
    match c.peek() {
        Some(ch) if is_alnum(ch) || ch == '/' => c.pos += 1,
        _ => {
            c.fail(c.pos, "a package name (a letter, digit or '/')");
            return None;
        }
    }
    let rest = c.pos;
    while matches!(c.peek(), Some(ch) if is_alnum(ch) || ".+-_/".contains(ch)) {
        c.pos += 1;
    }
    if c.pos == rest {
        c.fail(c.pos, "a package name of at least two characters");
        return None;
    }
    let name = c.text(start);

    // selector?
    let before = c.pos;
    let selectors = match selector(c) {
        Some(s) => s,
        None => {
            c.pos = before;
            Vec::new()
        }
    };
    // version?
    let before = c.pos;
    let versions = match version(c) {
        Some(v) => v,
        None => {
            c.pos = before;
            Vec::new()
        }
    };
    // '\n' | comment
    if c.peek().is_none() {
        return Some(Rule {
            name,
            selectors,
            versions,
            line: line_no,
        });
    }
    let before = c.pos;
    c.ws();
    if c.peek() == Some('#') {
        return Some(Rule {
            name,
            selectors,
            versions,
            line: line_no,
        });
    }
    c.fail(
        c.pos.max(before),
        "end of line, ' [selectors]', ' <version constraint>' or '# comment'",
    );
    None
}

/// `selector = ws '[' (ws? group)* ws? ']'`
fn selector(c: &mut Cursor) -> Option<Vec<Selector>> {
    if !c.ws() || !c.eat('[') {
        return None;
    }
    let mut out = Vec::new();
    loop {
        let before = c.pos;
        c.ws();
        match group(c) {
            Some(g) => out.push(g),
            None => {
                c.pos = before;
                break;
            }
        }
    }
    c.ws();
    if c.eat(']') {
        Some(out)
    } else {
        c.fail(
            c.pos,
            "a profile name (lower-case letters, digits, ':', '-', '.'), '!', '(' or ']'",
        );
        None
    }
}

/// `group = profiles | profile`
fn group(c: &mut Cursor) -> Option<Selector> {
    let before = c.pos;
    if let Some(g) = profiles(c) {
        return Some(Selector::Group(g));
    }
    c.pos = before;
    profile(c).map(|(positive, name)| Selector::Profile { positive, name })
}

/// `profiles = '(' (ws? profile)* ws? ')'`
fn profiles(c: &mut Cursor) -> Option<Vec<(bool, String)>> {
    if !c.eat('(') {
        return None;
    }
    let mut out = Vec::new();
    loop {
        let before = c.pos;
        c.ws();
        match profile(c) {
            Some(p) => out.push(p),
            None => {
                c.pos = before;
                break;
            }
        }
    }
    c.ws();
    if c.eat(')') {
        Some(out)
    } else {
        c.fail(
            c.pos,
            "a profile name (lower-case letters, digits, ':', '-', '.'), '!' or ')'",
        );
        None
    }
}

/// `profile = '!'? <(lowercase|digit|':'|'-'|'.')+>`
fn profile(c: &mut Cursor) -> Option<(bool, String)> {
    let negated = c.eat('!');
    let start = c.pos;
    while matches!(c.peek(), Some(ch) if ch.is_ascii_lowercase() || is_digit(ch) || ":-.".contains(ch))
    {
        c.pos += 1;
    }
    if c.pos == start {
        c.fail(
            c.pos,
            "a profile name (lower-case letters, digits, ':', '-', '.')",
        );
        return None;
    }
    Some((!negated, c.text(start)))
}

/// `version = ws oneversion (',' oneversion)*`
fn version(c: &mut Cursor) -> Option<Vec<VersionConstraint>> {
    if !c.ws() {
        return None;
    }
    let mut out = vec![oneversion(c)?];
    loop {
        let before = c.pos;
        if !c.eat(',') {
            break;
        }
        match oneversion(c) {
            Some(v) => out.push(v),
            None => {
                c.pos = before;
                break;
            }
        }
    }
    Some(out)
}

/// `oneversion = <('<=' | '<' | '!=' | '==' | '>=' | '>')> <debversion>`
fn oneversion(c: &mut Cursor) -> Option<VersionConstraint> {
    let op = ["<=", "<", "!=", "==", ">=", ">"].into_iter().find(|op| {
        op.chars()
            .enumerate()
            .all(|(i, ch)| c.at(c.pos + i) == Some(ch))
    });
    let Some(op) = op else {
        c.fail(c.pos, "a version operator (<=, <, !=, ==, >=, >)");
        return None;
    };
    c.pos += op.len();
    let start = c.pos;
    match debversion(c.chars, c.pos) {
        Some((end, _)) => {
            c.pos = end;
            Some(VersionConstraint {
                op: op.to_string(),
                version: c.text(start),
            })
        }
        None => {
            c.fail(c.pos, "a version starting with a digit");
            None
        }
    }
}

/// A Debian-style version split as bindep's `debversion` rule does: (epoch, upstream, revision).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct DebVersion {
    pub epoch: String,
    pub upstream: String,
    pub revision: String,
}

fn is_upstream_segment(ch: char) -> bool {
    is_alnum(ch) || ".+~:".contains(ch)
}

fn is_debver_char(ch: char) -> bool {
    is_alnum(ch) || ".+~".contains(ch)
}

/// `epoch = <digit+>:d ':'`; returns (end, digits).
fn epoch(s: &[char], mut p: usize) -> Option<(usize, String)> {
    let start = p;
    while matches!(s.get(p), Some(&ch) if is_digit(ch)) {
        p += 1;
    }
    if p == start || s.get(p) != Some(&':') {
        return None;
    }
    Some((p + 1, s[start..p].iter().collect()))
}

/// `debver = (letterOrDigit | '.' | '+' | '~')+`
fn debver(s: &[char], mut p: usize) -> Option<usize> {
    let start = p;
    while matches!(s.get(p), Some(&ch) if is_debver_char(ch)) {
        p += 1;
    }
    (p > start).then_some(p)
}

/// `trailingdeb = (upstream_segment* '-' debver)`
fn trailingdeb(s: &[char], mut p: usize) -> bool {
    while matches!(s.get(p), Some(&ch) if is_upstream_segment(ch)) {
        p += 1;
    }
    s.get(p) == Some(&'-') && debver(s, p + 1).is_some()
}

/// `upstreamver = digit (upstream_segment | ('-' ~~trailingdeb))*`
fn upstreamver(s: &[char], mut p: usize) -> Option<usize> {
    if !matches!(s.get(p), Some(&ch) if is_digit(ch)) {
        return None;
    }
    p += 1;
    loop {
        match s.get(p) {
            Some(&ch) if is_upstream_segment(ch) => p += 1,
            Some('-') if trailingdeb(s, p + 1) => p += 1,
            _ => return Some(p),
        }
    }
}

/// `debversion = upstream_hyphen | upstream_no_hyphen`; returns the end position and the parts.
pub(crate) fn debversion(s: &[char], p: usize) -> Option<(usize, DebVersion)> {
    // upstream_hyphen = epoch?:e <upstreamver>:u '-' <debver>:d
    let (q, e) = match epoch(s, p) {
        Some((q, e)) => (q, Some(e)),
        None => (p, None),
    };
    if let Some(u_end) = upstreamver(s, q) {
        if s.get(u_end) == Some(&'-') {
            if let Some(d_end) = debver(s, u_end + 1) {
                return Some((
                    d_end,
                    DebVersion {
                        epoch: e.unwrap_or_else(|| "0".into()),
                        upstream: s[q..u_end].iter().collect(),
                        revision: s[u_end + 1..d_end].iter().collect(),
                    },
                ));
            }
        }
    }
    // upstream_no_hyphen = epoch?:e <upstreamver_no_hyphen>:u
    let (q, e) = match epoch(s, p) {
        Some((q, e)) => (q, Some(e)),
        None => (p, None),
    };
    if !matches!(s.get(q), Some(&ch) if is_digit(ch)) {
        return None;
    }
    let mut end = q + 1;
    while matches!(s.get(end), Some(&ch) if is_upstream_segment(ch)) {
        end += 1;
    }
    Some((
        end,
        DebVersion {
            epoch: e.unwrap_or_else(|| "0".into()),
            upstream: s[q..end].iter().collect(),
            revision: String::new(),
        },
    ))
}

/// Parses a whole string as a Debian version, as `debversion_compiled(s).debversion()` does.
pub(crate) fn parse_debversion(s: &str) -> Option<DebVersion> {
    let chars: Vec<char> = s.chars().collect();
    match debversion(&chars, 0) {
        Some((end, v)) if end == chars.len() => Some(v),
        _ => None,
    }
}
