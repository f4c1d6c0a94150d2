//! Games nobody plays are forgotten: a game not played for `--forget-games-after-secs`
//! (from its last update, else its creation) goes from the store with its rows and
//! history, and so from the lobby.
//!
//! Every instance sweeps; the store's [`Store::forget_game`] is a compare-and-set on
//! the game's record (Cassandra: a lightweight transaction), so of several instances
//! sweeping at once exactly one forgets a game, and none forgets one that was played
//! since it read the record. The caller keeps the games it must not forget (the
//! default game, games running or with players anywhere).

use std::time::Duration;

use protocol::Uuid;

use super::metrics::HistoryMetrics;
use crate::store::{Store, StoreError};

/// Forgets every game of `store` last active more than `after` before `now_ms` and not
/// `kept`; the games this call forgot.
pub async fn sweep(
    store: &dyn Store,
    after: Duration,
    now_ms: i64,
    kept: impl Fn(Uuid) -> bool,
    metrics: &HistoryMetrics,
) -> Result<Vec<Uuid>, StoreError> {
    let cutoff = now_ms.saturating_sub(after.as_millis() as i64);
    let mut forgotten = Vec::new();
    for game in store.games().await? {
        let active = game.last_active_ms();
        if active > cutoff || kept(game.id) {
            continue;
        }
        if store.forget_game(&game).await? {
            tracing::info!(game = %game.id, name = %game.name, last_active_ms = active, "forgot a game nobody played");
            metrics.forgot();
            forgotten.push(game.id);
        }
    }
    Ok(forgotten)
}
