//! The game as a room plays it: entering, moves, chat and leaving, applied with the pure
//! [`rules`]; the per-game cap, and forgetting players long gone. Each verb publishes
//! its world frames, sends its direct ones, and hands its rows to the writer: the rows
//! first, so that a frame back from the world topic always had its rows handed over
//! before it (a cluster's checkpoint, taken from the frames the broker stored, is then
//! never ahead of the rows it goes with; docs/cluster.md).

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use protocol::{
    ChatLine, ClientMessage, Entering, PlayerUpdate, Uuid, MAX_CHAT_CHARS, MAX_NAME_CHARS,
};
use rand::{rngs::StdRng, SeedableRng};
use rules::game::Game;
use rules::MoveOutcome;
use tokio::sync::mpsc;

use super::frames::{self, World};
use super::metrics::{PlayerRefusal, RoomMetrics};
use super::record::Record;
use super::rows::Rows;
use super::sockets::Sockets;
use super::{Direct, RoomDeps, Stored};
use crate::text::clean;

/// Longest chat id kept (clients send UUIDs).
const MAX_CHAT_ID_CHARS: usize = 64;

/// A room's state: the game, and the parts that carry its effects out.
pub(super) struct Play {
    /// The game, owned by this task alone.
    pub(super) game: Game,
    /// The random source of food relocation, entry cells and tokens.
    rng: StdRng,
    /// The player sockets.
    pub(super) sockets: Sockets,
    /// Rows for the store writer, and the players who left.
    pub(super) rows: Rows,
    /// Where world frames go.
    pub(super) world: World,
    /// The history's snapshots, and when the game was last played.
    pub(super) record: Record,
    /// Where the room counts rejections and refusals, for `/metrics`.
    metrics: RoomMetrics,
    /// Active players now, read by the lobby.
    players: Arc<AtomicUsize>,
    /// Most players held, in the game or gone.
    max_players: usize,
}

impl Play {
    /// The room of `stored`: when fresh, every row of the game is handed to the writer
    /// first; players gone with no expiry get one. `players` is kept equal to the
    /// number of active players.
    pub(super) fn new(stored: Stored, deps: RoomDeps, players: Arc<AtomicUsize>) -> Self {
        let Stored {
            game,
            departures,
            tokens,
            fresh,
            last_seq,
        } = stored;
        let id = game.id;
        let first_seq = frames::first_seq(deps.clock.now_ms(), last_seq);
        let record = Record::new(
            id,
            deps.history.clone(),
            deps.writer.clone(),
            deps.clock.clone(),
        );
        let history = deps.history.map(|h| (h, deps.clock.clone()));
        let rows = Rows::new(id, deps.writer, departures, deps.prune_after, deps.clock);
        if fresh {
            rows.lay(&game, &tokens);
        }
        let mut play = Play {
            game,
            rng: StdRng::from_entropy(),
            sockets: Sockets::new(deps.metrics.clone(), tokens),
            rows,
            world: World::new(id, deps.bus, deps.metrics.clone(), first_seq, history),
            record,
            metrics: deps.metrics,
            players,
            max_players: deps.max_players,
        };
        play.rows.date_departures(&play.game, play.sockets.tokens());
        // a game loaded with active players (a take-over in a cluster) has them from the
        // start: the census must not say 0 until someone enters or leaves
        play.count_players();
        // the history of this load starts with the game as loaded
        play.after_command();
        play
    }

    /// After each command: the history's snapshot when one is due.
    pub(super) fn after_command(&mut self) {
        self.record.tick(&self.game, &self.world);
    }

    /// Applies one frame of `player`'s socket.
    pub(super) fn message(&mut self, player: Uuid, message: ClientMessage) {
        match message {
            ClientMessage::Entering { payload } => self.enter(player, payload),
            ClientMessage::Player { mut payload } => {
                payload.name = clean(&payload.name, MAX_NAME_CHARS);
                self.move_player(player, payload);
            }
            ClientMessage::Chat { payload } => self.chat(player, payload),
            ClientMessage::Leaving { .. } => self.leave(player),
        }
    }

    /// Writes `player`'s row, with its token's hash.
    fn persist(&self, player: Uuid) {
        let token = self.sockets.tokens().hash(player);
        self.rows.player(&self.game, player, token);
    }

    fn enter(&mut self, player: Uuid, request: Entering) {
        let name = clean(&request.name, MAX_NAME_CHARS);
        if !self.make_room_for(player) {
            return self.full(player);
        }
        let known = self.game.player(player);
        let active = known.is_some_and(|p| p.active);
        // only when the cap was lowered below what a loaded game holds
        if !active && self.game.active_players().count() >= self.max_players {
            return self.full(player);
        }
        // asked on the id's first entering only: an id first used without a token
        // cannot be bound later by someone else
        let first = known.is_none();
        let token = self
            .sockets
            .bind_token(player, request.want_token && first, &mut self.rng);
        let entered = match rules::enter(&mut self.game, player, name, &mut self.rng) {
            Ok(entered) => entered,
            Err(e) => return self.error(player, e.to_string()),
        };
        self.rows.returned(player);
        let own = frames::player_frame(player, entered.player.update());
        // entering again while in the game, on a socket that had its brief
        if self.sockets.enters(player, active) {
            // this socket has its brief: only the (renamed) own position
            self.direct(player, Direct::Frame(own.clone()));
            self.persist(player);
            self.world.publish(own);
            return;
        }
        let brief = frames::brief(&self.game, player, &entered.player, token, own.clone());
        // counted first: whoever sees the entry finds the lobby agreeing
        self.count_players();
        self.direct(player, Direct::Batch(brief));
        self.persist(player);
        self.world.publish(own);
        tracing::debug!(%player, returning = entered.returning, "player entered");
    }

    fn move_player(&mut self, player: Uuid, request: PlayerUpdate) {
        match rules::apply_move(&mut self.game, player, request, &mut self.rng) {
            MoveOutcome::NotEntered => {
                // a socket that entered under an earlier owner and whose player was let
                // go meanwhile is closed, to enter again; any other is told
                if !self.sockets.left_behind(player) {
                    self.error(player, "enter the game before moving".into())
                }
            }
            MoveOutcome::PassedThrough(update) => {
                self.persist(player);
                self.world.publish(frames::player_frame(player, update));
            }
            MoveOutcome::Rejected { update, reason } => {
                self.metrics.reject(reason);
                self.persist(player);
                self.world.publish(frames::player_frame(player, update));
            }
            MoveOutcome::Accepted { update, caught } => {
                self.persist(player);
                self.world.publish(frames::player_frame(player, update));
                if let Some(caught) = caught {
                    let food = &self.game.food[caught.index];
                    self.rows.food(food);
                    self.world.publish(frames::food_frame(food));
                    if let Some(catcher) = self.game.player(player) {
                        self.world.publish(frames::score_frame(player, catcher));
                    }
                    let line = frames::server_chat_frame("Good catch!");
                    self.direct(player, Direct::Frame(line));
                }
            }
        }
    }

    fn chat(&mut self, player: Uuid, line: ChatLine) {
        // the speaker's name is the one it entered under, never the frame's
        let Some(name) = self
            .game
            .player(player)
            .filter(|p| p.active)
            .map(|p| p.name.clone())
        else {
            return self.error(player, "enter the game before chatting".into());
        };
        let text = clean(&line.text, MAX_CHAT_CHARS);
        if text.is_empty() {
            return self.error(player, "empty chat line".into());
        }
        let line = ChatLine {
            id: clean(&line.id, MAX_CHAT_ID_CHARS),
            name,
            text,
        };
        let line = frames::chat_frame(player, line);
        self.record.chat(&line);
        self.world.publish(line);
    }

    /// Marks the player inactive and tells everyone, if it was in the game.
    pub(super) fn leave(&mut self, player: Uuid) {
        if let Some(name) = rules::leave(&mut self.game, player) {
            // counted first: whoever sees the departure finds the lobby agreeing
            self.count_players();
            self.rows.left(player);
            self.persist(player);
            self.world.publish(frames::leaving_frame(player, name));
        }
    }

    /// Briefs a spectator: the game as it stands, one message into `outbox` (dropped
    /// if the outbox is full or gone: the room never waits for a client). Nothing of
    /// the spectator is kept.
    pub(super) fn watched(&self, outbox: &mpsc::Sender<Direct>) {
        let _ = outbox.try_send(Direct::Batch(frames::spectator_brief(&self.game)));
    }

    /// Tells the lobby how many players are in the game now.
    fn count_players(&self) {
        let active = self.game.active_players().count();
        self.players.store(active, Ordering::Relaxed);
    }

    /// Whether `player` may enter without the game holding more than its cap: a player
    /// it holds already may; a newcomer may when there is room, or when the game can
    /// forget players gone longest to make some (a flood of made-up ids thus never
    /// grows the game, nor locks new players out while some have left).
    fn make_room_for(&mut self, player: Uuid) -> bool {
        if self.game.player(player).is_some() {
            return true;
        }
        while self.game.player_count() >= self.max_players {
            let Some(gone) = self.rows.expire_longest_gone(&self.game) else {
                return false;
            };
            self.forget(gone);
            self.metrics.players_pruned(1);
        }
        true
    }

    /// Forgets every player gone for longer than the prune time. Their store rows
    /// carry the same expiry, so the store forgets them by itself.
    pub(super) fn prune(&mut self) {
        let due = self.rows.due();
        if due.is_empty() {
            return;
        }
        for &player in &due {
            self.forget(player);
        }
        self.metrics.players_pruned(due.len());
        tracing::debug!(game = %self.game.id, players = due.len(), "forgot players long gone");
    }

    /// Drops everything the room holds about a player who is gone.
    fn forget(&mut self, player: Uuid) {
        self.rows.returned(player);
        self.game.remove_player(player);
        self.sockets.forget(player);
    }

    /// Refuses an `entering`: the game holds its most players.
    fn full(&mut self, player: Uuid) {
        self.metrics.player_refused(PlayerRefusal::Full);
        self.error(player, "the game is full".into());
    }

    fn error(&mut self, player: Uuid, reason: String) {
        self.direct(player, Direct::Frame(frames::error_frame(reason)));
    }

    /// Sends to one player socket without waiting; a socket that cannot take it is
    /// dropped and its player leaves.
    fn direct(&mut self, player: Uuid, message: Direct) {
        if !self.sockets.direct(player, message) {
            self.leave(player);
        }
    }
}
