//! The Pulsar bus's options (`--pulsar-*`, `DRAPETISCA_PULSAR_*`).

use std::path::PathBuf;

use secrecy::{ExposeSecret, SecretString};

use crate::error::BusError;

/// The topic used when none is configured.
pub const DEFAULT_TOPIC: &str = "persistent://public/default/drapetisca-world";

/// How to reach Pulsar; an unset URL means the in-process bus. Argument ids carry a
/// `pulsar_` prefix: clap ids are shared by every flattened options struct.
#[derive(Clone, Debug, clap::Args)]
pub struct PulsarOptions {
    /// Pulsar service URL (pulsar:// or pulsar+ssl://); setting this selects the Pulsar
    /// bus instead of the in-process one
    #[arg(id = "pulsar_url", long = "pulsar-url", env = "DRAPETISCA_PULSAR_URL")]
    pub url: Option<String>,

    /// Full name of the world topic (persistent://tenant/namespace/topic)
    #[arg(
        id = "pulsar_topic",
        long = "pulsar-topic",
        env = "DRAPETISCA_PULSAR_TOPIC",
        default_value = DEFAULT_TOPIC
    )]
    pub topic: String,

    /// Authentication token (JWT) for the broker
    #[arg(
        id = "pulsar_token",
        long = "pulsar-token",
        env = "DRAPETISCA_PULSAR_TOKEN",
        hide_env_values = true,
        conflicts_with = "pulsar_token_file"
    )]
    pub token: Option<SecretString>,

    /// File holding the authentication token (read at start-up; surrounding whitespace
    /// ignored)
    #[arg(
        id = "pulsar_token_file",
        long = "pulsar-token-file",
        env = "DRAPETISCA_PULSAR_TOKEN_FILE"
    )]
    pub token_file: Option<PathBuf>,

    /// PEM file of CA certificates to trust for pulsar+ssl://, besides the public roots
    #[arg(
        id = "pulsar_tls_ca_file",
        long = "pulsar-tls-ca-file",
        env = "DRAPETISCA_PULSAR_TLS_CA_FILE"
    )]
    pub tls_ca_file: Option<PathBuf>,

    /// The broker's admin REST URL (http:// or https://, e.g. http://127.0.0.1:8080),
    /// to check at start that the world topic keeps messages long enough for a
    /// take-over to replay from the games' checkpoints; unset: not checked
    #[arg(
        id = "pulsar_admin_url",
        long = "pulsar-admin-url",
        env = "DRAPETISCA_PULSAR_ADMIN_URL"
    )]
    pub admin_url: Option<String>,
}

impl Default for PulsarOptions {
    /// What the flags default to: no URL (the in-process bus), the default topic.
    fn default() -> Self {
        PulsarOptions {
            url: None,
            topic: DEFAULT_TOPIC.into(),
            token: None,
            token_file: None,
            tls_ca_file: None,
            admin_url: None,
        }
    }
}

impl PulsarOptions {
    /// The token from `--pulsar-token` or `--pulsar-token-file`, if any.
    pub fn resolve_token(&self) -> Result<Option<SecretString>, BusError> {
        if let Some(token) = &self.token {
            return Ok(Some(token.clone()));
        }
        let Some(path) = &self.token_file else {
            return Ok(None);
        };
        let text = std::fs::read_to_string(path).map_err(|e| {
            BusError::Config(format!(
                "cannot read the pulsar token file {}: {e}",
                path.display()
            ))
        })?;
        // a token file's trailing newline is not part of the token
        let token = SecretString::from(text.trim());
        if token.expose_secret().is_empty() {
            return Err(BusError::Config(format!(
                "the pulsar token file {} is empty",
                path.display()
            )));
        }
        Ok(Some(token))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_default_topic_is_a_full_persistent_name() {
        assert_eq!(PulsarOptions::default().topic, DEFAULT_TOPIC);
        assert!(DEFAULT_TOPIC.starts_with("persistent://public/default/"));
    }

    #[test]
    fn a_token_is_never_printed() {
        let options = PulsarOptions {
            token: Some("secret.jwt.value".into()),
            ..Default::default()
        };
        assert!(!format!("{options:?}").contains("jwt.value"));
    }

    #[test]
    fn a_token_file_is_read_trimmed_and_an_empty_one_refused() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("token");
        let options = PulsarOptions {
            token_file: Some(file.clone()),
            ..Default::default()
        };
        std::fs::write(&file, "  abc.def.ghi\n").unwrap();
        let token = options.resolve_token().unwrap().unwrap();
        assert_eq!(token.expose_secret(), "abc.def.ghi");
        std::fs::write(&file, "\n").unwrap();
        let error = options.resolve_token().unwrap_err().to_string();
        assert!(error.contains("is empty"), "{error}");
    }
}
