//! The room: one task that owns a game's state and applies commands one at a time.
//!
//! The [`crate::registry`] starts a room when a game is first joined and lets it go when
//! the room has had no player socket for the idle time: the room then waits until the
//! store writer has written all its rows, and leaves the registry's directory only if no
//! command arrived meanwhile, so a game is never running twice nor loaded back stale.
//!
//! Sockets send [`Command`]s through a cloneable [`RoomHandle`]; the room applies each
//! with the pure [`rules`], then publishes world frames on the bus, sends direct frames
//! to the one player they concern, and hands changed rows to the store writer. Nothing
//! in here waits on a client, the bus or the store: direct frames go into a bounded
//! per-socket outbox with `try_send`, and a socket whose outbox is full is dropped.
//!
//! What a room holds is bounded: players who left are forgotten after
//! `--prune-players-after-secs` ([`departures`]), and a game holds at most
//! `--max-players-per-game` players, active or gone; a newcomer beyond that makes the
//! room forget the longest gone first.
//!
//! # Layout
//!
//! This file is the room's interface. Inside, listed bottom-up (a module imports only
//! modules above it, and this file's types):
//!
//! - `departures`, `lease`, [`metrics`]: who left and when each is forgotten; the
//!   room's place in the directory; its figures.
//! - `frames`: building frames, and publishing the world's on the bus.
//! - `rows`: rows for the store writer, with the expiries of players who left.
//! - `record`: the history's snapshots and last chat lines, and when the game was
//!   last played.
//! - `sockets`: connections, sockets on trial, resume tokens, direct frames.
//! - `play`: the game's state and verbs: entering, moves, chat, leaving, the cap,
//!   forgetting players long gone.
//! - `task`: the loop: commands, the idle unload, the prune tick.

mod departures;
mod frames;
mod lease;
pub mod metrics;
mod play;
mod record;
mod rows;
mod sockets;
mod task;
#[cfg(test)]
mod tests;

use std::future::Future;
use std::sync::atomic::AtomicUsize;
use std::sync::Arc;
use std::time::Duration;

use protocol::{Board, ClientMessage, Uuid};
use rand::{rngs::StdRng, SeedableRng};
use tokio::sync::{mpsc, oneshot};
use tokio_util::sync::CancellationToken;

use crate::bus::{Bus, Frame};
use crate::clock::Clock;
use crate::history::writer::HistoryWriter;
use crate::store::{
    rows::GameRows, writer::StoreWriter, ObjectKind, Store, StoreError, StoredObject,
};
use crate::tokens::Tokens;
use metrics::RoomMetrics;
use play::Play;
use rules::game::Game;

pub use departures::Departures;
pub use lease::Lease;
pub use sockets::{close_reason, try_again_later, LEFT_BEHIND, OWNER_FULL};

/// Commands waiting for the room; senders wait when it is full, which slows only the
/// sockets that send.
const COMMAND_QUEUE: usize = 4096;

/// Identifies one player-socket connection, so that a late disconnect of an old socket
/// cannot unregister a newer one.
pub type ConnId = u64;

/// What the room sends to one player socket.
#[derive(Debug)]
pub enum Direct {
    /// One frame.
    Frame(Frame),
    /// Several frames in order (a brief), counted as one outbox slot.
    Batch(Vec<Frame>),
    /// Close the socket with this reason (policy violation): its id was taken over by a
    /// token holder, or it failed to present the id's token.
    Close(&'static str),
}

/// A message for the room.
pub enum Command {
    /// A player socket opened; `outbox` is where its direct frames go. `reattached`: the
    /// socket entered under an earlier owner of the game (a cluster's take-over).
    Connect {
        player: Uuid,
        outbox: mpsc::Sender<Direct>,
        reattached: bool,
        reply: oneshot::Sender<Result<ConnId, ConnectError>>,
    },
    /// A player socket closed.
    Disconnect { player: Uuid, conn: ConnId },
    /// A parsed frame from a player socket; `player` is the socket's id, never the frame's.
    Message {
        player: Uuid,
        conn: ConnId,
        message: ClientMessage,
        /// The id of the cluster command that carried it, stamped on the world frames
        /// it causes (`cluster::host`); `None` for a socket of this instance's own.
        cause: Option<Uuid>,
    },
    /// A spectator asks for the game as it stands (docs/protocol.md, "Spectators"):
    /// the room sends the brief into `outbox` as one [`Direct::Batch`], and forgets the
    /// spectator. It creates no player and takes no place among the sockets.
    Watch { outbox: mpsc::Sender<Direct> },
}

/// Why a player socket was refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum ConnectError {
    #[error("this player id is already connected")]
    AlreadyConnected,
    #[error("the server is shutting down")]
    Closed,
}

/// The sockets' way into the room. Cheap to clone.
#[derive(Clone)]
pub struct RoomHandle {
    /// The room's command queue.
    tx: mpsc::Sender<Command>,
}

impl RoomHandle {
    /// A handle on whatever task serves `tx` as a room: the room itself, or a stand-in
    /// that forwards to the room elsewhere (`cluster::gateway`).
    pub fn new(tx: mpsc::Sender<Command>) -> Self {
        RoomHandle { tx }
    }

    /// Registers a player socket; refused while another socket of the same id is alive.
    pub async fn connect(
        &self,
        player: Uuid,
        outbox: mpsc::Sender<Direct>,
    ) -> Result<ConnId, ConnectError> {
        self.attach(player, outbox, false).await
    }

    /// Registers a player socket that entered under an earlier owner of the game (a
    /// cluster's take-over attaches the sockets of other instances again): as
    /// [`RoomHandle::connect`], and if its player is no longer on the board its next
    /// move closes it with [`LEFT_BEHIND`], so that its client enters again.
    pub async fn reattach(
        &self,
        player: Uuid,
        outbox: mpsc::Sender<Direct>,
    ) -> Result<ConnId, ConnectError> {
        self.attach(player, outbox, true).await
    }

    async fn attach(
        &self,
        player: Uuid,
        outbox: mpsc::Sender<Direct>,
        reattached: bool,
    ) -> Result<ConnId, ConnectError> {
        let (reply, answer) = oneshot::channel();
        let command = Command::Connect {
            player,
            outbox,
            reattached,
            reply,
        };
        self.tx
            .send(command)
            .await
            .map_err(|_| ConnectError::Closed)?;
        answer.await.map_err(|_| ConnectError::Closed)?
    }

    /// Hands a frame to the room; `Err` once the room has stopped.
    pub async fn send(
        &self,
        player: Uuid,
        conn: ConnId,
        message: ClientMessage,
    ) -> Result<(), ConnectError> {
        self.send_caused(player, conn, message, None).await
    }

    /// Hands a frame that came as the cluster command `cause` to the room.
    pub async fn send_caused(
        &self,
        player: Uuid,
        conn: ConnId,
        message: ClientMessage,
        cause: Option<Uuid>,
    ) -> Result<(), ConnectError> {
        let command = Command::Message {
            player,
            conn,
            message,
            cause,
        };
        self.tx
            .send(command)
            .await
            .map_err(|_| ConnectError::Closed)
    }

    /// Asks for a spectator's brief, sent into `outbox` (one message); `Err` once the
    /// room has stopped.
    pub async fn watch(&self, outbox: mpsc::Sender<Direct>) -> Result<(), ConnectError> {
        self.tx
            .send(Command::Watch { outbox })
            .await
            .map_err(|_| ConnectError::Closed)
    }

    pub async fn disconnect(&self, player: Uuid, conn: ConnId) {
        // after shutdown nobody needs to hear about it
        let _ = self.tx.send(Command::Disconnect { player, conn }).await;
    }
}

/// A game as the store holds it, ready for a room.
pub struct Stored {
    /// The game; nobody is in it.
    pub game: Game,
    /// When each player who left is forgotten, from the rows' expiry.
    pub departures: Departures,
    /// The resume tokens bound to its player ids, from the rows' hashes.
    pub tokens: Tokens,
    /// Whether the store held none of it (a game just created, laid now).
    pub fresh: bool,
    /// The number of the last world frame of the game known when it was loaded (a
    /// take-over's replayed tail): the room numbers its frames after it.
    pub last_seq: Option<u64>,
}

/// Loads game `id` from `store`, or lays a new board for it when the store holds none
/// (a game just created).
pub async fn load_game(store: &dyn Store, board: Board, id: Uuid) -> Result<Stored, StoreError> {
    let rows = store.load(id).await?;
    let departures = departures_of(&rows);
    Ok(match Game::restore(id, board, &rows) {
        Some(game) => Stored {
            game,
            departures,
            tokens: tokens_of(&rows),
            fresh: false,
            last_seq: None,
        },
        None => Stored {
            game: rules::new_game(id, board, &mut StdRng::from_entropy()),
            departures: Departures::default(),
            tokens: Tokens::default(),
            fresh: true,
            last_seq: None,
        },
    })
}

/// When each player who left is forgotten, from the store's rows.
pub fn departures_of(rows: &[StoredObject]) -> Departures {
    let mut departures = Departures::default();
    for row in rows.iter().filter(|r| r.kind == ObjectKind::Player) {
        if let Some(at) = row.expires_ms {
            departures.left(row.object_id, at);
        }
    }
    departures
}

/// The resume tokens the store's rows hold: those of the player rows it keeps (a token
/// is forgotten with its player).
pub fn tokens_of(rows: &[StoredObject]) -> Tokens {
    Tokens::from_hashes(
        rows.iter()
            .filter(|r| r.kind == ObjectKind::Player)
            .filter_map(|r| Some((r.object_id, r.token_hash?))),
    )
}

/// What a room works with besides its game, the same for every room of the instance.
#[derive(Clone)]
pub struct RoomDeps {
    /// Where world frames go.
    pub bus: Arc<dyn Bus>,
    /// Where changed rows go.
    pub writer: StoreWriter,
    /// Where the room counts rejections and times its publishes, for `/metrics`.
    pub metrics: RoomMetrics,
    /// How long a room stays loaded with no player socket.
    pub idle: Duration,
    /// Most players one game holds, in it or gone.
    pub max_players: usize,
    /// How long a player who left keeps its place before it is forgotten.
    pub prune_after: Duration,
    /// The wall clock of expiries and history (`clock::System` but in tests).
    pub clock: Arc<dyn Clock>,
    /// Where the game's history goes (`None`: none is kept, `--history-secs 0`).
    pub history: Option<HistoryWriter>,
}

/// Starts the room for `stored`. When fresh, every row of the game is persisted first.
/// `players` is kept equal to the number of active players. The room stops when
/// `shutdown` fires (its handle then refuses commands), or when it has been idle for
/// `deps.idle` and `lease` lets it go.
pub fn spawn(
    stored: Stored,
    deps: RoomDeps,
    players: Arc<AtomicUsize>,
    lease: Lease,
    shutdown: CancellationToken,
) -> (RoomHandle, impl Future<Output = ()>) {
    let (tx, rx) = mpsc::channel(COMMAND_QUEUE);
    let (idle, prune_after) = (deps.idle, deps.prune_after);
    let play = Play::new(stored, deps, players);
    let task = task::run(play, rx, lease, shutdown, idle, prune_after);
    (RoomHandle { tx }, task)
}

#[cfg(test)]
mod stored_tests {
    //! What a room is loaded with, from the store's rows.

    use super::*;
    use crate::tokens::{Check, TokenHash};

    #[test]
    fn the_bindings_come_back_from_the_player_rows_that_carry_a_hash() {
        let row = |kind, n: u128, token: Option<&str>| StoredObject {
            kind,
            object_id: Uuid::from_u128(n),
            active: false,
            x: 0,
            y: 0,
            h: false,
            generation: 0,
            name: "p".into(),
            score: 0,
            expires_ms: None,
            token_hash: token.map(TokenHash::of),
        };
        let rows = [
            row(ObjectKind::Player, 1, Some("one")),
            row(ObjectKind::Player, 2, None),
            row(ObjectKind::Brick, 3, Some("not a player's")),
        ];
        let tokens = tokens_of(&rows);
        assert_eq!(tokens.len(), 1);
        assert_eq!(tokens.check(Uuid::from_u128(1), Some("one")), Check::Valid);
        assert_eq!(tokens.check(Uuid::from_u128(1), None), Check::Invalid);
        assert_eq!(tokens.check(Uuid::from_u128(2), None), Check::Unbound);
        assert_eq!(tokens.check(Uuid::from_u128(3), None), Check::Unbound);
    }
}
