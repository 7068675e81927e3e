//! Checking the `Authorization` header Alertmanager sends (bearer token or basic auth), in
//! constant time.

use base64::Engine as _;
use subtle::ConstantTimeEq as _;

use crate::Error;
use crate::config::AuthConfig;

/// The credentials a listener accepts.
#[derive(Clone, Default)]
pub struct Credentials {
    bearer: Option<Vec<u8>>,
    basic: Option<Vec<u8>>,
    basic_user: Option<String>,
}

impl std::fmt::Debug for Credentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Credentials").finish_non_exhaustive()
    }
}

fn read_secret(
    inline: Option<&String>,
    file: Option<&std::path::PathBuf>,
    what: &str,
) -> Result<Option<String>, Error> {
    match (inline, file) {
        (Some(_), Some(_)) => Err(Error::Config(format!(
            "{what}: give the value or a file, not both"
        ))),
        (Some(value), None) => Ok(Some(value.clone())),
        (None, Some(path)) => std::fs::read_to_string(path)
            .map(|s| Some(s.trim_end_matches(['\r', '\n']).to_owned()))
            .map_err(|e| Error::Config(format!("{what}: cannot read {}: {e}", path.display()))),
        (None, None) => Ok(None),
    }
}

impl Credentials {
    /// Loads the secrets named by the configuration.
    pub fn load(config: &AuthConfig) -> Result<Self, Error> {
        let bearer = read_secret(
            config.bearer_token.as_ref(),
            config.bearer_token_file.as_ref(),
            "bearer token",
        )?;
        let (basic, basic_user) = match &config.basic {
            Some(basic) => {
                let password = read_secret(
                    basic.password.as_ref(),
                    basic.password_file.as_ref(),
                    "basic password",
                )?
                .ok_or_else(|| {
                    Error::Config("basic auth needs password or password_file".into())
                })?;
                let token = base64::engine::general_purpose::STANDARD
                    .encode(format!("{}:{password}", basic.username));
                (Some(token.into_bytes()), Some(basic.username.clone()))
            }
            None => (None, None),
        };
        if bearer.as_deref().is_some_and(str::is_empty) {
            return Err(Error::Config("the bearer token is empty".into()));
        }
        Ok(Self {
            bearer: bearer.map(String::into_bytes),
            basic,
            basic_user,
        })
    }

    /// Checks an `Authorization` header value; `Some(who)` when accepted.
    pub fn check(&self, header: Option<&[u8]>) -> Option<String> {
        let header = header?;
        let text = std::str::from_utf8(header).ok()?;
        let (scheme, value) = text.trim().split_once(' ')?;
        let value = value.trim().as_bytes();
        if scheme.eq_ignore_ascii_case("bearer") {
            let expected = self.bearer.as_deref()?;
            bool::from(expected.ct_eq(value)).then(|| "bearer".to_owned())
        } else if scheme.eq_ignore_ascii_case("basic") {
            let expected = self.basic.as_deref()?;
            bool::from(expected.ct_eq(value)).then(|| self.basic_user.clone().unwrap_or_default())
        } else {
            None
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(yaml: &str) -> AuthConfig {
        serde_yaml_ng::from_str(yaml).expect("auth yaml")
    }

    #[test]
    fn bearer_and_basic_credentials_are_checked() {
        let creds = Credentials::load(&config(
            "{bearer_token: s3cret, basic: {username: am, password: pw}}",
        ))
        .expect("valid");
        assert_eq!(
            creds.check(Some(b"Bearer s3cret")).as_deref(),
            Some("bearer")
        );
        assert_eq!(
            creds.check(Some(b"bearer s3cret")).as_deref(),
            Some("bearer")
        );
        assert_eq!(creds.check(Some(b"Bearer s3cre")), None);
        assert_eq!(creds.check(Some(b"Bearer s3crett")), None);
        // "am:pw" in base64, as Alertmanager's basic_auth sends it.
        assert_eq!(creds.check(Some(b"Basic YW06cHc=")).as_deref(), Some("am"));
        assert_eq!(creds.check(Some(b"Basic YW06cHg=")), None);
        assert_eq!(creds.check(None), None);
        assert_eq!(creds.check(Some(b"Digest x")), None);
    }

    #[test]
    fn token_files_are_read_without_the_trailing_newline() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("token");
        std::fs::write(&path, "from-file\n").expect("write");
        let creds = Credentials::load(&config(&format!(
            "{{bearer_token_file: {}}}",
            path.display()
        )))
        .expect("valid");
        assert!(creds.check(Some(b"Bearer from-file")).is_some());
    }
}
