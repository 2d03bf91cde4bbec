//! Reading the build arguments through their table ([`super::args`]): the [`Resolver`] reads
//! each one with the parser of its kind and its table default, and records what it resolved
//! to and where that came from (the [`Resolution`]: `loci config`, inputs.env).

use std::collections::BTreeMap;
use std::time::Duration;

use serde::Serialize;

use super::args::{Arg, DefaultIs, Kind, ARGS};
use crate::error::{Error, Result};

/// A snapshot of the environment (or a test's stand-in for it).
pub type Env = BTreeMap<String, String>;

/// Where a resolved value came from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "source", content = "name_given", rename_all = "snake_case")]
pub enum Source {
    /// Given: a build argument or the environment, under this name (an older name, maybe).
    Given(&'static str),
    /// The table's default.
    Default,
    /// Computed from other values (the table's text says how).
    Derived,
    /// Set by the command that runs (`loci packages NAME...`, `loci cleanup`).
    Command,
    /// Not set, and no default: the argument does nothing.
    Unset,
    /// Given under this name, but not in effect in this build (UPPER_CONSTRAINTS with wheels).
    Ignored(&'static str),
}

impl Source {
    /// How `loci config` shows it.
    pub fn label(&self) -> String {
        match self {
            Source::Given(name) => format!("given ({name})"),
            Source::Default => "default".into(),
            Source::Derived => "derived".into(),
            Source::Command => "the command".into(),
            Source::Unset => "unset".into(),
            Source::Ignored(name) => format!("given ({name}), not in effect"),
        }
    }
}

/// One argument as resolved: its value in effect (`None`: none), and where it came from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Resolved {
    pub name: &'static str,
    pub value: Option<String>,
    #[serde(flatten)]
    pub source: Source,
}

/// Every argument of the table, as resolved, in the table's order.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Resolution {
    pub args: Vec<Resolved>,
}

impl Resolution {
    /// The resolved `name`, when the table has it.
    pub fn get(&self, name: &str) -> Option<&Resolved> {
        self.args.iter().find(|r| r.name == name)
    }

    /// Records `name` anew: a value the command set after reading the environment.
    pub(crate) fn set(&mut self, arg: &'static Arg, value: Option<String>, source: Source) {
        let resolved = Resolved {
            name: arg.name,
            value,
            source,
        };
        match self.args.iter_mut().find(|r| r.name == arg.name) {
            Some(r) => *r = resolved,
            None => self.args.push(resolved),
        }
    }
}

/// Reads arguments from the environment by their table entries, recording each.
pub struct Resolver<'a> {
    env: &'a Env,
    seen: BTreeMap<&'static str, Resolved>,
}

impl<'a> Resolver<'a> {
    pub fn new(env: &'a Env) -> Self {
        Resolver {
            env,
            seen: BTreeMap::new(),
        }
    }

    /// The value given for `arg` (under its name, else an older one) and that name. Empty
    /// (after trimming) counts as not given, but for the kinds where empty is a value.
    fn given(&self, arg: &'static Arg) -> Option<(&'static str, String)> {
        let empty_counts = matches!(arg.kind, Kind::Words | Kind::TextOrEmpty);
        std::iter::once(&arg.name)
            .chain(arg.aliases.iter())
            .find_map(|name| {
                let v = self.env.get(*name)?;
                let v = if arg.kind == Kind::Words {
                    v.clone()
                } else {
                    v.trim().to_string()
                };
                (empty_counts || !v.trim().is_empty()).then_some((*name, v))
            })
    }

    /// The table says which parser reads `arg`: reading it with another is a bug of loci,
    /// which every test that resolves a configuration catches.
    fn parser(arg: &'static Arg, fits: impl Fn(Kind) -> bool, parser: &str) {
        assert!(
            fits(arg.kind),
            "{} is of kind {:?} in the table of build arguments, not read as {parser}",
            arg.name,
            arg.kind
        );
    }

    fn record(&mut self, arg: &'static Arg, value: Option<String>, source: Source) {
        self.seen.insert(
            arg.name,
            Resolved {
                name: arg.name,
                value,
                source,
            },
        );
    }

    /// Records `arg` with a value the caller resolved (a choice, a value in effect only in
    /// some builds).
    pub fn set(&mut self, arg: &'static Arg, value: Option<String>, source: Source) {
        self.record(arg, value, source);
    }

    /// Where `arg`'s value comes from: its given name, else the table's default (or none).
    pub fn source(&self, arg: &'static Arg) -> Source {
        match self.given(arg) {
            Some((name, _)) => Source::Given(name),
            None => match arg.default {
                DefaultIs::Value(_) => Source::Default,
                DefaultIs::Derived(_) => Source::Derived,
                _ => Source::Unset,
            },
        }
    }

    /// Text: the value given, else the table's default, else none.
    pub fn text(&mut self, arg: &'static Arg) -> Option<String> {
        Self::parser(arg, is_text, "text");
        let (value, source) = match self.given(arg) {
            Some((name, v)) => (Some(v), Source::Given(name)),
            None => match arg.default_value() {
                Some(d) => (Some(d.to_string()), Source::Default),
                None => (None, Source::Unset),
            },
        };
        self.record(arg, value.clone(), source);
        value
    }

    /// Text: the value given, else `derived` (computed from other values).
    pub fn text_or(&mut self, arg: &'static Arg, derived: impl FnOnce() -> String) -> String {
        Self::parser(arg, is_text, "text");
        let (value, source) = match self.given(arg) {
            Some((name, v)) => (v, Source::Given(name)),
            None => (derived(), Source::Derived),
        };
        self.record(arg, Some(value.clone()), source);
        value
    }

    /// A list: the words given (set but empty: none), else the table's default.
    pub fn words(&mut self, arg: &'static Arg) -> Vec<String> {
        let default = arg.default_value().unwrap_or("");
        self.words_or(arg, || split(default))
    }

    /// A list: the words given (set but empty: none), else `derived`.
    pub fn words_or(
        &mut self,
        arg: &'static Arg,
        derived: impl FnOnce() -> Vec<String>,
    ) -> Vec<String> {
        Self::parser(arg, |k| k == Kind::Words, "words");
        let (value, source) = match self.given(arg) {
            Some((name, v)) => (split(&v), Source::Given(name)),
            None => (derived(), self.source(arg)),
        };
        self.record(arg, Some(value.join(" ")), source);
        value
    }

    /// A boolean (LOCI's forms, see [`parse_bool`]), else the table's default.
    pub fn boolean(&mut self, arg: &'static Arg) -> Result<bool> {
        Self::parser(arg, |k| k == Kind::Bool, "a boolean");
        let default = parse_bool(arg.default_value().unwrap_or("False"))
            .expect("the table's boolean defaults are booleans");
        let value = match self.given(arg) {
            None => default,
            Some((name, v)) => parse_bool(&v).ok_or_else(|| {
                Error::new(format!("{name}={} is not a boolean", shown(&v))).hint(format!(
                    "use True or False (yes/no and 1/0 work too); the default is {}",
                    if default { "True" } else { "False" }
                ))
            })?,
        };
        let source = self.source(arg);
        self.record(arg, Some(yes_no(value).into()), source);
        Ok(value)
    }

    /// A numeric id from 1 to 4294967294, else the table's default.
    pub fn id(&mut self, arg: &'static Arg) -> Result<u32> {
        Self::parser(arg, |k| k == Kind::Id, "an id");
        let default = arg.default_value().unwrap_or("0");
        let value = match self.given(arg) {
            None => default.parse().expect("the table's ids are numbers"),
            Some((name, v)) => match v.parse::<u32>() {
                Ok(n) if n > 0 && n < 4_294_967_295 => n,
                _ => {
                    return Err(Error::new(format!(
                        "{name}={} is not a valid numeric id",
                        shown(&v)
                    ))
                    .hint(format!(
                        "{name} must be a number from 1 to 4294967294; LOCI's default is {default}"
                    )))
                }
            },
        };
        let source = self.source(arg);
        self.record(arg, Some(value.to_string()), source);
        Ok(value)
    }

    /// A timeout in seconds (fractions allowed), from more than 0 up to an hour, else the
    /// table's default.
    pub fn seconds(&mut self, arg: &'static Arg) -> Result<Duration> {
        Self::parser(arg, |k| k == Kind::Seconds, "seconds");
        let default = arg.default_value().unwrap_or("0");
        let text = match self.given(arg) {
            None => default.to_string(),
            Some((name, v)) => match v.parse::<f64>() {
                Ok(n) if n > 0.0 && n <= 3600.0 => v,
                _ => {
                    return Err(Error::new(format!(
                        "{name}={} is not a timeout in seconds",
                        shown(&v)
                    ))
                    .hint(format!(
                        "give a number of seconds from 0.001 to 3600, e.g. {name}=20; the default is {default}"
                    )))
                }
            },
        };
        let source = self.source(arg);
        let value = Duration::from_secs_f64(text.parse().expect("checked above"));
        self.record(arg, Some(text), source);
        Ok(value)
    }

    /// SOURCE_DATE_EPOCH's kind: seconds since 1970.
    pub fn epoch(&mut self, arg: &'static Arg) -> Result<Option<u64>> {
        Self::parser(arg, |k| k == Kind::Epoch, "an epoch");
        let value = match self.given(arg) {
            None => None,
            Some((_, v)) => Some(parse_source_date_epoch(&v)?),
        };
        let source = self.source(arg);
        self.record(arg, value.map(|e| e.to_string()), source);
        Ok(value)
    }

    /// Every argument of the table, as resolved; those the configuration did not read (the
    /// Dockerfile's own, the environment's) as given, else their default.
    pub fn finish(mut self) -> Resolution {
        for arg in ARGS {
            if !self.seen.contains_key(arg.name) {
                let (value, source) = match self.given(arg) {
                    Some((name, v)) => (Some(v), Source::Given(name)),
                    None => (arg.default_value().map(String::from), self.source(arg)),
                };
                self.record(arg, value, source);
            }
        }
        let mut args = Vec::with_capacity(ARGS.len());
        for arg in ARGS {
            if let Some(r) = self.seen.remove(arg.name) {
                args.push(r);
            }
        }
        Resolution { args }
    }
}

/// The kinds read as text (and then checked by the code reading them).
fn is_text(kind: Kind) -> bool {
    matches!(
        kind,
        Kind::Text
            | Kind::TextOrEmpty
            | Kind::Count
            | Kind::Dir
            | Kind::Path
            | Kind::Choice(_)
            | Kind::Wheels
            | Kind::UrlOrPath
    )
}

/// How a resolved boolean is recorded (inputs.env): `yes` or `no`.
pub fn yes_no(b: bool) -> &'static str {
    if b {
        "yes"
    } else {
        "no"
    }
}

fn split(v: &str) -> Vec<String> {
    v.split_whitespace().map(String::from).collect()
}

/// A value as quoted in a message: cut to [`crate::error::QUOTE_MAX`] characters.
pub(crate) fn shown(value: &str) -> String {
    crate::error::cut(value, crate::error::QUOTE_MAX)
}

/// Parses SOURCE_DATE_EPOCH (seconds since 1970, UTC).
pub fn parse_source_date_epoch(value: &str) -> Result<u64> {
    value.trim().parse::<u64>().map_err(|_| {
        Error::new(format!(
            "SOURCE_DATE_EPOCH={} is not a number of seconds",
            crate::error::cut(value, crate::error::QUOTE_MAX)
        ))
        .hint("give the seconds since 1970-01-01 UTC, e.g. SOURCE_DATE_EPOCH=$(git log -1 --format=%ct), or leave it unset")
    })
}

/// LOCI's booleans: True/False, yes/no, 1/0, on/off, case-insensitive.
pub fn parse_bool(value: &str) -> Option<bool> {
    match value.trim().to_ascii_lowercase().as_str() {
        "true" | "yes" | "1" | "on" | "y" => Some(true),
        "false" | "no" | "0" | "off" | "n" => Some(false),
        _ => None,
    }
}
