//! Registry authentication: credentials from a docker config.json (REGISTRY_AUTH_FILE or the
//! BuildKit secret), the `WWW-Authenticate` challenge, and the bearer-token flow of the docker
//! token auth spec (anonymous, with basic credentials, or with an identity token).

use std::path::Path;

use base64::Engine;
use reqwest::blocking::Client;
use reqwest::header::HeaderValue;
use serde::Deserialize;

use crate::error::{Error, Result};

/// Credentials for one registry.
#[derive(Clone, PartialEq, Eq)]
pub enum Credentials {
    Basic {
        username: String,
        password: String,
    },
    /// An OAuth2 refresh token (`identitytoken` in config.json).
    IdentityToken(String),
}

impl std::fmt::Debug for Credentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Credentials::Basic { username, .. } => write!(f, "Basic({username}, ***)"),
            Credentials::IdentityToken(_) => write!(f, "IdentityToken(***)"),
        }
    }
}

impl Credentials {
    /// The `Authorization: Basic` value (None for an identity token).
    pub fn basic_header(&self) -> Option<HeaderValue> {
        match self {
            Credentials::Basic { username, password } => {
                let raw = base64::engine::general_purpose::STANDARD
                    .encode(format!("{username}:{password}"));
                let mut v = HeaderValue::from_str(&format!("Basic {raw}")).ok()?;
                v.set_sensitive(true);
                Some(v)
            }
            Credentials::IdentityToken(_) => None,
        }
    }
}

#[derive(Deserialize)]
struct ConfigFile {
    #[serde(default)]
    auths: std::collections::BTreeMap<String, AuthEntry>,
}

#[derive(Deserialize, Default)]
struct AuthEntry {
    auth: Option<String>,
    username: Option<String>,
    password: Option<String>,
    identitytoken: Option<String>,
}

/// `https://host:port/v1/` -> `host:port`, lowercased.
fn normalize_host(key: &str) -> String {
    let k = key.trim().to_ascii_lowercase();
    let k = k
        .strip_prefix("https://")
        .or_else(|| k.strip_prefix("http://"))
        .unwrap_or(&k);
    k.split('/').next().unwrap_or("").to_string()
}

fn is_hub(host: &str) -> bool {
    matches!(
        host,
        "docker.io" | "index.docker.io" | "registry-1.docker.io" | "registry.hub.docker.com"
    )
}

/// Looks up the credentials for `registry` (`host[:port]`) in the docker config.json `file`.
pub fn load(file: &Path, registry: &str) -> Result<Option<Credentials>> {
    let what = || format!("REGISTRY_AUTH_FILE={}", file.display());
    let hint = "the file must be a docker config.json: {\"auths\": {\"HOST[:PORT]\": {\"auth\": \"<base64 of user:password>\"}}} (or username/password fields); pass it as a BuildKit secret (`--secret id=registry-auth,src=$HOME/.docker/config.json`), never as a build argument";
    let text = std::fs::read_to_string(file).map_err(|e| {
        Error::new(format!("{}: cannot read", what()))
            .caused_by(e)
            .hint(hint)
    })?;
    let config: ConfigFile = serde_json::from_str(&text).map_err(|e| {
        Error::new(format!("{}: not a docker config.json", what()))
            .caused_by(e)
            .hint(hint)
    })?;
    let want = normalize_host(registry);
    let entry = config.auths.iter().find(|(k, _)| {
        let h = normalize_host(k);
        h == want || (is_hub(&h) && is_hub(&want))
    });
    let Some((key, entry)) = entry else {
        return Ok(None);
    };
    if let Some(token) = entry.identitytoken.as_deref().filter(|t| !t.is_empty()) {
        return Ok(Some(Credentials::IdentityToken(token.to_string())));
    }
    if let Some(auth) = entry.auth.as_deref().filter(|a| !a.is_empty()) {
        let decoded = base64::engine::general_purpose::STANDARD
            .decode(auth.trim())
            .ok()
            .and_then(|d| String::from_utf8(d).ok())
            .ok_or_else(|| {
                Error::new(format!("{}: auths.{key}.auth is not base64", what())).hint(hint)
            })?;
        let (username, password) = decoded.split_once(':').ok_or_else(|| {
            Error::new(format!(
                "{}: auths.{key}.auth is not base64 of user:password",
                what()
            ))
            .hint(hint)
        })?;
        return Ok(Some(Credentials::Basic {
            username: username.into(),
            password: password.into(),
        }));
    }
    match (&entry.username, &entry.password) {
        (Some(u), Some(p)) => Ok(Some(Credentials::Basic {
            username: u.clone(),
            password: p.clone(),
        })),
        _ => Err(Error::new(format!(
            "{}: auths.{key} has neither auth nor username/password",
            what()
        ))
        .hint(hint)),
    }
}

/// A parsed `WWW-Authenticate` header.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Challenge {
    /// `bearer` or `basic`, lowercased.
    pub scheme: String,
    pub params: Vec<(String, String)>,
}

impl Challenge {
    pub fn param(&self, key: &str) -> Option<&str> {
        self.params
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(key))
            .map(|(_, v)| v.as_str())
    }
}

/// Parses `Bearer realm="...",service="...",scope="..."` (quoted values may hold commas).
pub fn parse_challenge(header: &str) -> Option<Challenge> {
    let header = header.trim();
    let (scheme, rest) = match header.find(' ') {
        Some(i) => (&header[..i], &header[i + 1..]),
        None => (header, ""),
    };
    if scheme.is_empty() {
        return None;
    }
    let mut params = Vec::new();
    let mut chars = rest.chars().peekable();
    loop {
        while chars.peek().is_some_and(|c| *c == ',' || c.is_whitespace()) {
            chars.next();
        }
        let key: String =
            std::iter::from_fn(|| chars.next_if(|c| *c != '=' && *c != ',')).collect();
        if key.is_empty() {
            break;
        }
        if chars.next() != Some('=') {
            break;
        }
        let mut value = String::new();
        if chars.peek() == Some(&'"') {
            chars.next();
            while let Some(c) = chars.next() {
                match c {
                    '\\' => value.extend(chars.next()),
                    '"' => break,
                    c => value.push(c),
                }
            }
        } else {
            value = std::iter::from_fn(|| chars.next_if(|c| *c != ','))
                .collect::<String>()
                .trim()
                .to_string();
        }
        params.push((key.trim().to_string(), value));
    }
    Some(Challenge {
        scheme: scheme.to_ascii_lowercase(),
        params,
    })
}

#[derive(Deserialize)]
struct TokenAnswer {
    token: Option<String>,
    access_token: Option<String>,
}

/// Gets a bearer token for `scope` as the challenge says (anonymously without credentials).
pub fn fetch_token(
    client: &Client,
    challenge: &Challenge,
    scope: &str,
    creds: Option<&Credentials>,
    registry: &str,
) -> Result<HeaderValue> {
    let realm = challenge.param("realm").ok_or_else(|| {
        Error::new(format!(
            "registry {registry}: the bearer challenge names no realm"
        ))
        .cause(format!("{challenge:?}"))
    })?;
    let mut url = reqwest::Url::parse(realm).map_err(|e| {
        Error::new(format!("registry {registry}: bad token realm {realm:?}")).caused_by(e)
    })?;
    let service = challenge.param("service");
    let what = format!("registry {registry}: getting a token from {realm}");
    let resp = match creds {
        Some(Credentials::IdentityToken(token)) => {
            let mut form = vec![
                ("grant_type", "refresh_token".to_string()),
                ("client_id", "loci".to_string()),
                ("refresh_token", token.clone()),
                ("scope", scope.to_string()),
            ];
            if let Some(s) = service {
                form.push(("service", s.to_string()));
            }
            crate::http::send(&what, || client.post(url.clone()).form(&form))?
        }
        _ => {
            {
                let mut q = url.query_pairs_mut();
                if let Some(s) = service {
                    q.append_pair("service", s);
                }
                q.append_pair("scope", scope);
            }
            let basic = creds.and_then(Credentials::basic_header);
            crate::http::send(&what, || {
                let mut req = client.get(url.clone());
                if let Some(b) = &basic {
                    req = req.header(reqwest::header::AUTHORIZATION, b.clone());
                }
                req
            })?
        }
    };
    let status = resp.status();
    if status == reqwest::StatusCode::UNAUTHORIZED || status == reqwest::StatusCode::FORBIDDEN {
        let hint = if creds.is_some() {
            "the credentials in REGISTRY_AUTH_FILE were rejected: check user and password (or token) for this registry"
        } else {
            "this registry needs credentials: pass a docker config.json as the BuildKit secret registry-auth (or set REGISTRY_AUTH_FILE)"
        };
        return Err(crate::http::status_error(&what, resp).hint(hint));
    }
    if !status.is_success() {
        return Err(crate::http::status_error(&what, resp));
    }
    let answer: TokenAnswer = resp
        .json()
        .map_err(|e| Error::new(format!("{what}: unreadable answer")).caused_by(e))?;
    let token = answer
        .token
        .or(answer.access_token)
        .filter(|t| !t.is_empty())
        .ok_or_else(|| Error::new(format!("{what}: the answer holds no token")))?;
    let mut v = HeaderValue::from_str(&format!("Bearer {token}")).map_err(|e| {
        Error::new(format!("{what}: the token is not a valid header value")).caused_by(e)
    })?;
    v.set_sensitive(true);
    Ok(v)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn challenges_parse_with_commas_in_quotes() {
        let c = parse_challenge(r#"Bearer realm="https://auth.docker.io/token",service="registry.docker.io",scope="repository:a/b:pull,push""#).unwrap();
        assert_eq!(c.scheme, "bearer");
        assert_eq!(c.param("realm"), Some("https://auth.docker.io/token"));
        assert_eq!(c.param("service"), Some("registry.docker.io"));
        assert_eq!(c.param("scope"), Some("repository:a/b:pull,push"));
        let c = parse_challenge(r#"Basic realm="Registry Realm""#).unwrap();
        assert_eq!(c.scheme, "basic");
        assert_eq!(c.param("REALM"), Some("Registry Realm"));
        assert_eq!(parse_challenge("Basic").unwrap().params, vec![]);
    }

    fn write(json: &str) -> tempfile::NamedTempFile {
        let f = tempfile::NamedTempFile::new().unwrap();
        std::fs::write(f.path(), json).unwrap();
        f
    }

    #[test]
    fn config_json_entries_are_found_by_host() {
        let f = write(
            r#"{"auths": {
                "https://index.docker.io/v1/": {"auth": "aHViOnNlY3JldA=="},
                "reg.example.com:5000": {"username": "u", "password": "p:w"},
                "http://other.example/v2/": {"identitytoken": "tok"}
            }, "credsStore": "desktop"}"#,
        );
        let basic = |u: &str, p: &str| {
            Some(Credentials::Basic {
                username: u.into(),
                password: p.into(),
            })
        };
        assert_eq!(
            load(f.path(), "registry-1.docker.io").unwrap(),
            basic("hub", "secret")
        );
        assert_eq!(
            load(f.path(), "REG.example.com:5000").unwrap(),
            basic("u", "p:w")
        );
        assert_eq!(
            load(f.path(), "other.example").unwrap(),
            Some(Credentials::IdentityToken("tok".into()))
        );
        assert_eq!(load(f.path(), "reg.example.com").unwrap(), None);
        assert_eq!(format!("{:?}", basic("u", "p").unwrap()), "Basic(u, ***)");
    }

    #[test]
    fn broken_config_files_are_named() {
        let f = write("{not json");
        let e = load(f.path(), "x").unwrap_err().to_string();
        assert!(
            e.contains("REGISTRY_AUTH_FILE=") && e.contains("not a docker config.json"),
            "{e}"
        );
        let f = write(r#"{"auths": {"x": {"auth": "!!!"}}}"#);
        let e = load(f.path(), "x").unwrap_err().to_string();
        assert!(e.contains("auths.x.auth is not base64"), "{e}");
        let e = load(Path::new("/nonexistent/config.json"), "x")
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("cannot read") && e.contains("BuildKit secret"),
            "{e}"
        );
    }
}
