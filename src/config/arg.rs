//! What a row of the table of build arguments ([`super::args`]) is.

use serde::Serialize;

/// One build argument or environment variable.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Arg {
    pub name: &'static str,
    /// Older names still read when `name` is not set (the new name wins when both are).
    pub aliases: &'static [&'static str],
    pub default: DefaultIs,
    /// What it does, one line (the README's "meaning").
    pub doc: &'static str,
    pub kind: Kind,
    /// Whether /etc/image_info/inputs.env records its resolved value.
    pub inputs: Inputs,
    /// One of LOCI master's build arguments (else loci's own).
    pub loci: bool,
    pub place: Place,
}

/// An argument's default.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", content = "value", rename_all = "snake_case")]
pub enum DefaultIs {
    /// This value, loci's and the Dockerfile's.
    Value(&'static str),
    /// None: unset, the argument does nothing (the text says what that means, or is empty).
    Unset(&'static str),
    /// Computed from other values, as the text says.
    Derived(&'static str),
    /// Must be given.
    Required,
}

/// The kind of value, deciding the parser that reads it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Kind {
    /// Text, trimmed; empty is unset.
    Text,
    /// Text where set but empty is a value of its own (no cap, no tools), not the default.
    TextOrEmpty,
    /// A list separated by white space; set but empty is an empty list.
    Words,
    /// True/False, yes/no, 1/0, on/off, any case.
    Bool,
    /// A numeric user or group id, 1 to 4294967294.
    Id,
    /// A positive count.
    Count,
    /// Seconds, from 0.001 to 3600.
    Seconds,
    /// Seconds since 1970 (SOURCE_DATE_EPOCH).
    Epoch,
    /// An absolute directory without `..`.
    Dir,
    /// A path.
    Path,
    /// One of a few words.
    Choice(&'static [&'static str]),
    /// An image reference, an http(s) URL or an absolute path (WHEELS).
    Wheels,
    /// An http(s) URL or an absolute path.
    UrlOrPath,
    /// Read by the Dockerfile, never by loci.
    Dockerfile,
}

/// Whether inputs.env records an argument.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Inputs {
    No,
    /// Always, empty when it has no value.
    Always,
    /// When it has a value in effect (UPPER_CONSTRAINTS of a build without wheels,
    /// SOURCE_DATE_EPOCH when set).
    WhenSet,
}

/// Where an argument comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Place {
    /// A build argument: an `ARG` of the Dockerfile, passed to loci in the environment.
    BuildArg,
    /// A build argument the Dockerfile alone reads (images to use, labels).
    Dockerfile,
    /// The environment only: set by the Dockerfile itself or by whoever runs loci.
    Environment,
}

impl Arg {
    pub(super) const fn new(
        name: &'static str,
        kind: Kind,
        default: DefaultIs,
        doc: &'static str,
    ) -> Arg {
        Arg {
            name,
            aliases: &[],
            default,
            doc,
            kind,
            inputs: Inputs::No,
            loci: false,
            place: Place::BuildArg,
        }
    }

    /// One of LOCI master's names.
    pub(super) const fn loci(mut self) -> Arg {
        self.loci = true;
        self
    }

    pub(super) const fn inputs(mut self, inputs: Inputs) -> Arg {
        self.inputs = inputs;
        self
    }

    pub(super) const fn aliases(mut self, aliases: &'static [&'static str]) -> Arg {
        self.aliases = aliases;
        self
    }

    pub(super) const fn place(mut self, place: Place) -> Arg {
        self.place = place;
        self
    }

    /// The default value, when it is a value.
    pub fn default_value(&self) -> Option<&'static str> {
        match self.default {
            DefaultIs::Value(v) => Some(v),
            _ => None,
        }
    }
}
