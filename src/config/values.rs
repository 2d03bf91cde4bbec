//! Reading one build argument: the parsers of every kind of value (text, words, booleans,
//! ids, seconds, SOURCE_DATE_EPOCH) with their errors.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Duration;

use crate::error::{Error, Result};

/// A snapshot of the environment (or a test's stand-in for it).
pub type Env = BTreeMap<String, String>;

/// A non-empty, trimmed value.
pub(crate) fn get(env: &Env, key: &str) -> Option<String> {
    env.get(key)
        .map(|v| v.trim().to_string())
        .filter(|v| !v.is_empty())
}

/// A value as quoted in a message: cut to [`crate::error::QUOTE_MAX`] characters.
pub(crate) fn shown(value: &str) -> String {
    crate::error::cut(value, crate::error::QUOTE_MAX)
}

/// A white-space separated list.
pub(crate) fn words(env: &Env, key: &str) -> Vec<String> {
    env.get(key)
        .map(|v| v.split_whitespace().map(String::from).collect())
        .unwrap_or_default()
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

/// PACKAGE_CACHE (default on) and LOCI_CACHE_DIR, the Dockerfile's cache mounts: the cache
/// dir when both say so. A LOCI_CACHE_DIR that is not a directory is no cache (loci never
/// creates it: that would leave it in the image).
pub(crate) fn cache_dir(env: &Env) -> Result<Option<PathBuf>> {
    if !boolean(env, "PACKAGE_CACHE", true)? {
        return Ok(None);
    }
    Ok(get(env, "LOCI_CACHE_DIR")
        .map(PathBuf::from)
        .filter(|d| d.is_absolute() && d.is_dir()))
}

pub(crate) fn boolean(env: &Env, key: &str, default: bool) -> Result<bool> {
    match get(env, key) {
        None => Ok(default),
        Some(v) => parse_bool(&v).ok_or_else(|| {
            Error::new(format!("{key}={} is not a boolean", shown(&v))).hint(format!(
                "use True or False (yes/no and 1/0 work too); the default is {}",
                if default { "True" } else { "False" }
            ))
        }),
    }
}

/// A timeout in seconds (fractions allowed), from more than 0 up to an hour.
pub(crate) fn seconds(env: &Env, key: &str, default: Duration) -> Result<Duration> {
    match get(env, key) {
        None => Ok(default),
        Some(v) => match v.parse::<f64>() {
            Ok(n) if n > 0.0 && n <= 3600.0 => Ok(Duration::from_secs_f64(n)),
            _ => Err(Error::new(format!(
                "{key}={} is not a timeout in seconds",
                crate::error::cut(&v, crate::error::QUOTE_MAX)
            ))
            .hint(format!(
                "give a number of seconds from 0.001 to 3600, e.g. {key}=20; the default is {}",
                default.as_secs()
            ))),
        },
    }
}

pub(crate) fn id(env: &Env, key: &str, default: u32) -> Result<u32> {
    match get(env, key) {
        None => Ok(default),
        Some(v) => match v.parse::<u32>() {
            Ok(n) if n > 0 && n < 4_294_967_295 => Ok(n),
            _ => Err(
                Error::new(format!("{key}={} is not a valid numeric id", shown(&v))).hint(format!(
                    "{key} must be a number from 1 to 4294967294; LOCI's default is {default}"
                )),
            ),
        },
    }
}
