//! Whether the world topic keeps messages long enough for a cluster's take-overs: a
//! take-over replays the topic from the game's checkpoint, which stays where it was for
//! as long as the store is away, so the topic must keep messages at least that long
//! (docs/cluster.md, "Operating it"). Read at start from the broker's admin REST API
//! (`--pulsar-admin-url`), the retention that applies to the topic (its own, else its
//! namespace's, else the broker's default); a service that does not let us read it
//! (a managed one may not) is logged, and the instance starts all the same.

use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Empty};
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use serde::Deserialize;

use crate::handshake::client_config;
use crate::options::PulsarOptions;

/// The retention asked for: the longest store outage a cluster rides out without
/// losing a move, with room to spare.
pub const WANTED: Duration = Duration::from_secs(60 * 60);

/// How long the admin API may take to answer.
const TIMEOUT: Duration = Duration::from_secs(5);

/// A topic's retention, as the admin API gives it: `-1` means no limit, `0` none.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Retention {
    /// How long acknowledged messages are kept, in minutes.
    pub retention_time_in_minutes: i64,
    /// How much of them is kept, in MB.
    #[serde(rename = "retentionSizeInMB")]
    pub retention_size_in_mb: i64,
}

impl Retention {
    /// Whether it keeps messages for `wanted` at least. Pulsar keeps acknowledged
    /// messages only when both limits are set (a size of 0 keeps none); the size may
    /// still cut in earlier, which only the operator can judge.
    pub fn keeps(&self, wanted: Duration) -> bool {
        let minutes = self.retention_time_in_minutes;
        let long = minutes == -1 || minutes >= (wanted.as_secs() / 60) as i64;
        long && self.retention_size_in_mb != 0
    }
}

/// The admin API's path of `topic`'s applied retention (`persistent://t/n/topic` to
/// `/admin/v2/persistent/t/n/topic/retention?applied=true`).
pub fn retention_path(topic: &str) -> Result<String, String> {
    let (domain, name) = topic
        .split_once("://")
        .ok_or_else(|| format!("{topic:?} is not a full topic name (persistent://t/n/topic)"))?;
    if name.split('/').count() != 3 || name.split('/').any(str::is_empty) {
        return Err(format!(
            "{topic:?} is not a full topic name (persistent://t/n/topic)"
        ));
    }
    Ok(format!("/admin/v2/{domain}/{name}/retention?applied=true"))
}

/// Reads the world topic's retention and logs what it means; never fails the start.
pub async fn check(options: &PulsarOptions) {
    let Some(admin) = options.admin_url.as_deref() else {
        tracing::info!(
            "the world topic's retention is not checked (no --pulsar-admin-url): it must keep \
             messages for as long as the store may be away ({} min asked)",
            WANTED.as_secs() / 60
        );
        return;
    };
    match read(options, admin).await {
        Ok(retention) if retention.keeps(WANTED) => tracing::info!(
            minutes = retention.retention_time_in_minutes,
            size_mb = retention.retention_size_in_mb,
            "the world topic's retention covers a store outage of {} min",
            WANTED.as_secs() / 60
        ),
        Ok(retention) => tracing::warn!(
            minutes = retention.retention_time_in_minutes,
            size_mb = retention.retention_size_in_mb,
            "the world topic keeps messages for less than {} min: a take-over after a longer \
             store outage loses the moves made meanwhile (pulsar-admin namespaces set-retention)",
            WANTED.as_secs() / 60
        ),
        Err(e) => tracing::warn!(error = %e, "cannot read the world topic's retention; going on"),
    }
}

async fn read(options: &PulsarOptions, admin: &str) -> Result<Retention, String> {
    let url = format!(
        "{}{}",
        admin.trim_end_matches('/'),
        retention_path(&options.topic)?
    );
    let tls = client_config(options.tls_ca_file.as_deref())?;
    let https = hyper_rustls::HttpsConnectorBuilder::new()
        .with_tls_config(tls)
        .https_or_http()
        .enable_http1()
        .build();
    let client: Client<_, Empty<Bytes>> = Client::builder(TokioExecutor::new()).build(https);
    let mut request = hyper::Request::get(&url);
    if let Some(token) = options.resolve_token().map_err(|e| e.to_string())? {
        use secrecy::ExposeSecret;
        request = request.header(
            hyper::header::AUTHORIZATION,
            format!("Bearer {}", token.expose_secret()),
        );
    }
    let request = request
        .body(Empty::new())
        .map_err(|e| format!("{url}: {e}"))?;
    let body = tokio::time::timeout(TIMEOUT, async {
        let response = client
            .request(request)
            .await
            .map_err(|e| format!("{url}: {e}"))?;
        let status = response.status();
        if !status.is_success() {
            return Err(format!("{url} answered {status}"));
        }
        let body = response
            .into_body()
            .collect()
            .await
            .map_err(|e| format!("{url}: {e}"))?;
        Ok(body.to_bytes())
    })
    .await
    .map_err(|_| format!("{url} did not answer within {TIMEOUT:?}"))??;
    serde_json::from_slice::<Retention>(&body)
        .map_err(|e| format!("{url} answered something else than a retention: {e}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn retention(minutes: i64, size_mb: i64) -> Retention {
        Retention {
            retention_time_in_minutes: minutes,
            retention_size_in_mb: size_mb,
        }
    }

    #[test]
    fn a_retention_keeps_enough_when_both_limits_allow_the_wanted_time() {
        let hour = Duration::from_secs(3600);
        assert!(retention(60, 1024).keeps(hour));
        assert!(retention(-1, -1).keeps(hour));
        assert!(retention(120, -1).keeps(hour));
        assert!(!retention(30, -1).keeps(hour), "too short");
        assert!(!retention(0, 0).keeps(hour), "the default: none");
        assert!(!retention(120, 0).keeps(hour), "a size of 0 keeps nothing");
    }

    #[test]
    fn the_admin_answer_reads_as_a_retention() {
        let answer = r#"{"retentionTimeInMinutes":60,"retentionSizeInMB":-1}"#;
        assert_eq!(
            serde_json::from_str::<Retention>(answer).unwrap(),
            retention(60, -1)
        );
    }

    #[test]
    fn the_path_names_the_topic_and_a_short_name_is_refused() {
        assert_eq!(
            retention_path("persistent://public/default/drapetisca-world").unwrap(),
            "/admin/v2/persistent/public/default/drapetisca-world/retention?applied=true"
        );
        for bad in [
            "drapetisca-world",
            "persistent://public/drapetisca-world",
            "persistent://a//b",
        ] {
            assert!(
                retention_path(bad).unwrap_err().contains("full topic name"),
                "{bad}"
            );
        }
    }
}
