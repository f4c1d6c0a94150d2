//! A room's player sockets: who is connected, sockets on trial for a token-bound id,
//! resume tokens, and direct frames, which never make the room wait (a socket that
//! cannot take one is dropped).
//!
//! It decides which socket speaks for a player id and says so to the caller; what the
//! player does in the game is for the caller ([`super::play`]).

use std::collections::HashMap;

use protocol::{ClientMessage, Uuid};
use rand::Rng;
use tokio::sync::mpsc;

use super::metrics::{PlayerRefusal, RoomMetrics};
use super::{ConnId, ConnectError, Direct};
use crate::tokens::{Check, Tokens};

/// Why a socket that failed to present its id's token is closed.
const NEEDS_TOKEN: &str = "this player id needs its token";
/// Why a socket replaced by a token holder's newer one is closed.
const REPLACED: &str = "replaced by a newer connection";

/// Why the socket of a new game is closed in a cluster when the instance that owns the
/// game's command partition owns the most games it may (`--max-owned-games`): not the
/// room's reason but its owner's, and one where waiting helps.
pub const OWNER_FULL: &str =
    "this game cannot start now: its server runs the most games it may; try again later";

/// Why a socket is closed that entered under an earlier owner of the game, in a
/// cluster, and whose player left the board meanwhile (its instance was cut off from the
/// others long enough for the new owner to let the player go): the socket must enter
/// again, and only a new socket is told so by its brief. One where trying again helps.
pub const LEFT_BEHIND: &str =
    "the game went on without this connection while its server was cut off; enter again";

/// Why a socket is closed, as the room says it: one of its own reasons for a reason
/// that came as text (from the room of another instance, `cluster`), else a general one.
pub fn close_reason(text: &str) -> &'static str {
    [NEEDS_TOKEN, REPLACED, OWNER_FULL, LEFT_BEHIND]
        .into_iter()
        .find(|known| *known == text)
        .unwrap_or("closed by the game")
}

/// Whether a socket closed for `reason` may come back later (close code 1013, "try again
/// later"), rather than being refused by the game's rules (1008).
pub fn try_again_later(reason: &str) -> bool {
    reason == OWNER_FULL || reason == LEFT_BEHIND
}

/// A connected player socket.
struct Conn {
    /// Which connection this is.
    id: ConnId,
    /// Its direct frames.
    outbox: mpsc::Sender<Direct>,
    /// Whether it entered the game: a repeated `entering` then sends no new brief.
    entered: bool,
    /// Whether it entered under an earlier owner of the game (a cluster's take-over
    /// attached it again) and has not entered here since: a move of it while its
    /// player is off the board closes it ([`LEFT_BEHIND`]) rather than answering
    /// "enter the game" to a client that believes it is in.
    reattached: bool,
    /// Whether it may speak for its id: always for ids without a token, else once it
    /// entered with the token.
    proven: bool,
}

/// What to do with a frame from a player socket.
#[derive(Debug, PartialEq, Eq)]
pub(super) enum Admission {
    /// Apply it: the socket speaks for the player.
    Play,
    /// The player's socket was closed for not showing the id's token: a player it left
    /// active (a dead socket) leaves now.
    Leave,
    /// Nothing: the socket was dropped meanwhile (the frame is stale), or was on trial
    /// and is closed.
    Ignore,
}

/// The player sockets of one game.
pub(super) struct Sockets {
    /// Connected player sockets by player id.
    conns: HashMap<Uuid, Conn>,
    /// Sockets on trial, by player id: opened for a token-bound id while another socket
    /// of it is connected; the first to enter with the token replaces that one.
    pending: HashMap<Uuid, Conn>,
    /// Resume tokens of this game's player ids.
    tokens: Tokens,
    /// The next [`ConnId`].
    next_conn: ConnId,
    /// Where the room counts refused players and dropped sockets, for `/metrics`.
    metrics: RoomMetrics,
}

impl Sockets {
    pub(super) fn new(metrics: RoomMetrics, tokens: Tokens) -> Self {
        Sockets {
            conns: HashMap::new(),
            pending: HashMap::new(),
            tokens,
            next_conn: 1,
            metrics,
        }
    }

    /// The resume tokens of the game's player ids (their hashes go with the rows).
    pub(super) fn tokens(&self) -> &Tokens {
        &self.tokens
    }

    /// Whether no player socket is connected.
    pub(super) fn is_empty(&self) -> bool {
        self.conns.is_empty()
    }

    /// Registers a socket of `player` (`reattached`: one that entered under an earlier
    /// owner of the game); refused while another socket of the id is alive, unless the
    /// id has a token (the new socket is then on trial).
    pub(super) fn connect(
        &mut self,
        player: Uuid,
        outbox: mpsc::Sender<Direct>,
        reattached: bool,
    ) -> Result<ConnId, ConnectError> {
        let connected = self
            .conns
            .get(&player)
            .is_some_and(|c| !c.outbox.is_closed());
        let bound = self.tokens.is_bound(player);
        if connected && !bound {
            self.metrics.player_refused(PlayerRefusal::Taken);
            return Err(ConnectError::AlreadyConnected);
        }
        let id = self.next_conn;
        self.next_conn += 1;
        let conn = Conn {
            id,
            outbox,
            entered: false,
            reattached,
            proven: !bound,
        };
        if connected {
            // on trial until it shows the token; a newer trial replaces an older one
            if let Some(older) = self.pending.insert(player, conn) {
                self.metrics.player_refused(PlayerRefusal::Token);
                let _ = older.outbox.try_send(Direct::Close(NEEDS_TOKEN));
            }
        } else {
            self.conns.insert(player, conn);
        }
        Ok(id)
    }

    /// Unregisters socket `conn` of `player`; `true` when it was the player's connected
    /// socket (the player then leaves), not a late disconnect of an older one.
    pub(super) fn disconnect(&mut self, player: Uuid, conn: ConnId) -> bool {
        if self.conns.get(&player).is_some_and(|c| c.id == conn) {
            self.conns.remove(&player);
            true
        } else {
            if self.pending.get(&player).is_some_and(|c| c.id == conn) {
                self.pending.remove(&player);
            }
            false
        }
    }

    /// Whether socket `conn` of `player` may have `message` applied, replacing or
    /// closing sockets as the id's token says.
    pub(super) fn admit(
        &mut self,
        player: Uuid,
        conn: ConnId,
        message: &ClientMessage,
    ) -> Admission {
        // a frame from a socket that was dropped meanwhile is stale
        if self.pending.get(&player).is_some_and(|c| c.id == conn) {
            return self.on_trial(player, message);
        }
        let Some(current) = self.conns.get(&player).filter(|c| c.id == conn) else {
            return Admission::Ignore;
        };
        if current.proven {
            return Admission::Play;
        }
        if self.proves(player, message) {
            // shown once, for the socket's life (as a socket on trial, `on_trial`)
            if let Some(current) = self.conns.get_mut(&player) {
                current.proven = true;
            }
            return Admission::Play;
        }
        // the id is bound and this socket cannot show its token; a player it left
        // active (a dead socket) leaves now
        if let Some(conn) = self.conns.remove(&player) {
            self.metrics.player_refused(PlayerRefusal::Token);
            let _ = conn.outbox.try_send(Direct::Close(NEEDS_TOKEN));
        }
        Admission::Leave
    }

    /// Whether `message` is an `entering` with `player`'s token.
    fn proves(&self, player: Uuid, message: &ClientMessage) -> bool {
        let ClientMessage::Entering { payload } = message else {
            return false;
        };
        self.tokens.check(player, payload.token.as_deref()) == Check::Valid
    }

    /// A frame from a socket on trial: an `entering` with the token replaces the
    /// connected socket at once (the player stays in the game); anything else closes
    /// the socket on trial.
    fn on_trial(&mut self, player: Uuid, message: &ClientMessage) -> Admission {
        // unwrap: the caller found it
        let mut conn = self.pending.remove(&player).unwrap();
        if !self.proves(player, message) {
            self.metrics.player_refused(PlayerRefusal::Token);
            let _ = conn.outbox.try_send(Direct::Close(NEEDS_TOKEN));
            return Admission::Ignore;
        }
        conn.proven = true;
        if let Some(old) = self.conns.insert(player, conn) {
            let _ = old.outbox.try_send(Direct::Close(REPLACED));
        }
        tracing::debug!(%player, "a token holder replaced its stale socket");
        Admission::Play
    }

    /// Binds a fresh token to `player` if `want`ed and it has none yet, and returns it.
    pub(super) fn bind_token(
        &mut self,
        player: Uuid,
        want: bool,
        rng: &mut impl Rng,
    ) -> Option<String> {
        (want && !self.tokens.is_bound(player)).then(|| self.tokens.bind(player, rng))
    }

    /// Records that `player`'s socket entered; `true` when it had entered before while
    /// the player was `active` (it has its brief).
    pub(super) fn enters(&mut self, player: Uuid, active: bool) -> bool {
        self.conns.get_mut(&player).is_some_and(|c| {
            let again = c.entered && active;
            c.entered = true;
            c.reattached = false;
            again
        })
    }

    /// Closes `player`'s socket with [`LEFT_BEHIND`] if it was attached again after a
    /// take-over and has not entered here; `true` when it did.
    pub(super) fn left_behind(&mut self, player: Uuid) -> bool {
        if !self.conns.get(&player).is_some_and(|c| c.reattached) {
            return false;
        }
        // unwrap: just found
        let conn = self.conns.remove(&player).unwrap();
        let _ = conn.outbox.try_send(Direct::Close(LEFT_BEHIND));
        true
    }

    /// Forgets `player`'s token (the player is forgotten).
    pub(super) fn forget(&mut self, player: Uuid) {
        self.tokens.forget(player);
    }

    /// Sends to one player socket without waiting; a socket that cannot take it is
    /// dropped (its task sees the outbox close). Returns `false` when it was dropped:
    /// its player then leaves.
    pub(super) fn direct(&mut self, player: Uuid, message: Direct) -> bool {
        let Some(conn) = self.conns.get(&player) else {
            return true;
        };
        match conn.outbox.try_send(message) {
            Ok(()) => true,
            Err(mpsc::error::TrySendError::Full(_)) => {
                self.metrics.socket_queue_drop();
                tracing::warn!(%player, "player socket too slow; dropping it");
                self.conns.remove(&player);
                false
            }
            Err(mpsc::error::TrySendError::Closed(_)) => {
                self.conns.remove(&player);
                false
            }
        }
    }
}
