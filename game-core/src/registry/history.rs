//! A game's history as the history API asks for it (through the registry, which knows
//! which games exist and which are played now), and forgetting games nobody plays.

use std::sync::atomic::Ordering;
use std::time::Duration;

use protocol::Uuid;
use serde::Serialize;

use super::Registry;
use crate::clock::now_ms;
use crate::history::metrics::HistoryMetrics;
use crate::history::{forget, window};
use crate::store::StoreError;

/// A game counts as live when it has players now, or its last record is at most this
/// old (a game played on another instance of a cluster, or by a moment's lull).
pub const LIVE_WITHIN_MS: i64 = 60_000;

/// The span of a game's history (the JSON of `GET /api/games/{id}/history/span`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Span {
    pub game: Uuid,
    /// The time of the first record kept, in ms since the epoch.
    pub first: Option<i64>,
    /// The time of the last record kept.
    pub last: Option<i64>,
    /// Whether the game is played now ([`LIVE_WITHIN_MS`]).
    pub live: bool,
}

impl Registry {
    /// The window of `game`'s history from `from` to `to` (see [`window::window`]);
    /// `None` for no such game.
    pub async fn history(
        &self,
        game: Uuid,
        from: Option<i64>,
        to: i64,
        limit: usize,
    ) -> Result<Option<window::Window>, StoreError> {
        if !self.exists(game).await? {
            return Ok(None);
        }
        window::window(&*self.store, game, from, to, limit)
            .await
            .map(Some)
    }

    /// The span of `game`'s history; `None` for no such game.
    pub async fn history_span(&self, game: Uuid) -> Result<Option<Span>, StoreError> {
        if !self.exists(game).await? {
            return Ok(None);
        }
        let span = self.store.history_span(game).await?;
        let (first, last) = (span.map(|s| s.0), span.map(|s| s.1));
        let recent = last.is_some_and(|last| now_ms() - last <= LIVE_WITHIN_MS);
        Ok(Some(Span {
            game,
            first,
            last,
            live: recent || self.players_now(game) > 0,
        }))
    }

    /// Players in `game` now, as the lobby counts them.
    fn players_now(&self, game: Uuid) -> usize {
        self.placement.players(game).unwrap_or_else(|| {
            self.loaded(game)
                .map_or(0, |l| l.players.load(Ordering::Relaxed))
        })
    }

    /// Forgets every game not played for `after` (docs: `--forget-games-after-secs`),
    /// but the default game and games running here or with players anywhere; the
    /// games this instance forgot.
    pub async fn forget_idle_games(
        &self,
        after: Duration,
        metrics: &HistoryMetrics,
    ) -> Result<Vec<Uuid>, StoreError> {
        let kept = |game: Uuid| {
            game == self.default_game || self.loaded(game).is_some() || self.players_now(game) > 0
        };
        forget::sweep(&*self.store, after, now_ms(), kept, metrics).await
    }
}
