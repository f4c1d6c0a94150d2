//! The room's rows for the store writer, and when each player who left is forgotten.
//!
//! A player row carries the player's expiry while it is gone, so the store forgets it
//! when the room does; every write goes to the [`StoreWriter`], which never makes the
//! room wait.

use std::sync::Arc;
use std::time::Duration;

use protocol::Uuid;
use rules::game::{Game, Item};

use super::departures::Departures;
use crate::clock::Clock;
use crate::store::{rows::GameRows, writer::StoreWriter, ObjectKind, StoredObject};
use crate::tokens::{TokenHash, Tokens};

/// A room's writes, and its players who left.
pub(super) struct Rows {
    /// The game whose rows these are.
    game: Uuid,
    /// Where changed rows go.
    writer: StoreWriter,
    /// Players who left, and when each is forgotten.
    departures: Departures,
    /// How long a player who left keeps its place.
    prune_after: Duration,
    /// The wall clock of expiries.
    clock: Arc<dyn Clock>,
}

impl Rows {
    pub(super) fn new(
        game: Uuid,
        writer: StoreWriter,
        departures: Departures,
        prune_after: Duration,
        clock: Arc<dyn Clock>,
    ) -> Self {
        Rows {
            game,
            writer,
            departures,
            prune_after,
            clock,
        }
    }

    /// The writer, for the barrier of a room about to unload.
    pub(super) fn writer(&self) -> StoreWriter {
        self.writer.clone()
    }

    /// Writes every row of `game`, just laid, each player's with its token's hash.
    pub(super) fn lay(&self, game: &Game, tokens: &Tokens) {
        for mut row in game.rows() {
            // a player gone keeps what is left of its time: the store forgets it when
            // the room would; a player keeps its token
            if row.kind == ObjectKind::Player {
                row.expires_ms = self.departures.expiry(row.object_id);
                row.token_hash = tokens.hash(row.object_id);
            }
            self.writer.upsert(self.game, row);
        }
    }

    /// Writes `player`'s row as `game` holds it now, with its token's hash.
    pub(super) fn player(&self, game: &Game, player: Uuid, token: Option<TokenHash>) {
        if let Some(mut row) = self.player_row(game, player) {
            row.token_hash = token;
            self.writer.upsert(self.game, row);
        }
    }

    /// Writes the row of a food item that moved.
    pub(super) fn food(&self, food: &Item) {
        self.writer
            .upsert(self.game, Game::item_row(ObjectKind::Food, food));
    }

    /// A player's store row, with its expiry if it is gone.
    fn player_row(&self, game: &Game, player: Uuid) -> Option<StoredObject> {
        let mut row = game.player_row(player)?;
        row.expires_ms = self.departures.expiry(player);
        Some(row)
    }

    /// `player` left now: it is forgotten after the prune time.
    pub(super) fn left(&mut self, player: Uuid) {
        self.departures.left(player, self.expiry_from_now());
    }

    /// `player` came back, or is forgotten: it is due no more.
    pub(super) fn returned(&mut self, player: Uuid) {
        self.departures.returned(player);
    }

    /// When a player leaving now is forgotten.
    fn expiry_from_now(&self) -> i64 {
        self.clock
            .now_ms()
            .saturating_add(self.prune_after.as_millis() as i64)
    }

    /// Gives every player who left an expiry: the loaded rows of older files, or
    /// written by reference servers, have none. Each is counted from now, and written
    /// with it, so the store forgets it too.
    pub(super) fn date_departures(&mut self, game: &Game, tokens: &Tokens) {
        let undated: Vec<Uuid> = game
            .players()
            .filter(|(id, p)| !p.active && self.departures.expiry(*id).is_none())
            .map(|(id, _)| id)
            .collect();
        let expiry = self.expiry_from_now();
        for player in undated {
            self.departures.left(player, expiry);
            self.player(game, player, tokens.hash(player));
        }
    }

    /// Takes out the player gone longest, if any, and writes its row expiring now: the
    /// store forgets it too. The caller forgets it in the game.
    pub(super) fn expire_longest_gone(&mut self, game: &Game) -> Option<Uuid> {
        let gone = self.departures.soonest()?;
        // its row expires now: the store forgets it too
        if let Some(mut row) = self.player_row(game, gone) {
            row.expires_ms = Some(self.clock.now_ms());
            self.writer.upsert(self.game, row);
        }
        Some(gone)
    }

    /// Takes out every player gone for longer than the prune time. Their store rows
    /// carry the same expiry, so the store forgets them by itself.
    pub(super) fn due(&mut self) -> Vec<Uuid> {
        self.departures.due(self.clock.now_ms())
    }
}
