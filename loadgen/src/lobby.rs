//! The games a run spreads its bots over: the server's default game, and the others
//! created through the lobby API (`POST /api/games`) before any bot connects.

use std::net::SocketAddr;

use anyhow::{bail, Context, Result};
use protocol::Uuid;
use serde::Deserialize;

/// The part of the lobby's answer the run needs.
#[derive(Deserialize)]
struct Created {
    /// The new game's id.
    id: Uuid,
}

/// `count` games on the server at `addr`: `None` (the default game), then `count - 1`
/// new ones named after the run's `label`.
pub async fn games_for(addr: SocketAddr, count: usize, label: &str) -> Result<Vec<Option<Uuid>>> {
    let client = reqwest::Client::new();
    let url = format!("http://{addr}/api/games");
    let mut games = vec![None];
    for n in 1..count {
        let name = format!("{} {n}", if label.is_empty() { "loadgen" } else { label });
        let response = client
            .post(&url)
            .json(&serde_json::json!({ "name": name }))
            .send()
            .await
            .with_context(|| format!("creating game {n} of {count}"))?;
        let status = response.status();
        let body = response.text().await.unwrap_or_default();
        if !status.is_success() {
            bail!(
                "the server refused to create game {n} of {count} ({status}: {body}); \
                 a spawned server needs --server-arg=--max-game-creations-per-minute={count} \
                 (and --max-games if over 1000)"
            );
        }
        let created: Created = serde_json::from_str(&body).context("the created game")?;
        games.push(Some(created.id));
    }
    Ok(games)
}
