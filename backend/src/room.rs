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

mod departures;

use std::collections::HashMap;
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use futures_util::future::OptionFuture;
use protocol::{
    server::{ErrorPayload, TokenPayload},
    Board, ChatFrom, ChatLine, ClientMessage, Entering, LeavingPayload, ObjectPayload,
    PlayerUpdate, ScorePayload, ServerMessage, Uuid, MAX_CHAT_CHARS, MAX_NAME_CHARS,
};
use rand::{rngs::StdRng, SeedableRng};
use tokio::sync::{mpsc, oneshot};
use tokio_util::sync::CancellationToken;

use crate::bus::{frame, Bus, Frame};
use crate::game::{Game, Item, Player};
use crate::metrics::{Metrics, PlayerRefusal};
use crate::registry::Lease;
use crate::rules::{self, MoveOutcome};
use crate::store::{
    now_ms, rows::GameRows, writer::StoreWriter, ObjectKind, Store, StoreError, StoredObject,
};
use crate::text::clean;
use crate::tokens::{Check, Tokens};

pub use departures::Departures;

/// Commands waiting for the room; senders wait when it is full, which slows only the
/// sockets that send.
const COMMAND_QUEUE: usize = 4096;
/// Longest chat id kept (clients send UUIDs).
const MAX_CHAT_ID_CHARS: usize = 64;
/// How many top scorers a brief lists (the page shows fewer).
const SCOREBOARD_BRIEF: usize = 10;
/// Bounds of the period of the check for players to forget.
const PRUNE_TICK_MIN: Duration = Duration::from_millis(100);
const PRUNE_TICK_MAX: Duration = Duration::from_secs(60);

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
    /// A player socket opened; `outbox` is where its direct frames go.
    Connect {
        player: Uuid,
        outbox: mpsc::Sender<Direct>,
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
        let (reply, answer) = oneshot::channel();
        let command = Command::Connect {
            player,
            outbox,
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
            tokens: Tokens::of_rows(&rows),
            fresh: false,
        },
        None => Stored {
            game: rules::new_game(id, board, &mut StdRng::from_entropy()),
            departures: Departures::default(),
            tokens: Tokens::default(),
            fresh: true,
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

/// Why a socket is closed, as the room says it: one of its own reasons for a reason
/// that came as text (from the room of another instance, `cluster`), else a general one.
pub fn close_reason(text: &str) -> &'static str {
    [NEEDS_TOKEN, REPLACED]
        .into_iter()
        .find(|known| *known == text)
        .unwrap_or("closed by the game")
}

/// What a room works with besides its game, the same for every room of the instance.
#[derive(Clone)]
pub struct RoomDeps {
    /// Where world frames go.
    pub bus: Arc<dyn Bus>,
    /// Where changed rows go.
    pub writer: StoreWriter,
    /// Where the room counts rejections and times its publishes, for `/metrics`.
    pub metrics: Arc<Metrics>,
    /// How long a room stays loaded with no player socket.
    pub idle: Duration,
    /// Most players one game holds, in it or gone.
    pub max_players: usize,
    /// How long a player who left keeps its place before it is forgotten.
    pub prune_after: Duration,
}

/// A connected player socket.
struct Conn {
    /// Which connection this is.
    id: ConnId,
    /// Its direct frames.
    outbox: mpsc::Sender<Direct>,
    /// Whether it entered the game: a repeated `entering` then sends no new brief.
    entered: bool,
    /// Whether it may speak for its id: always for ids without a token, else once it
    /// entered with the token.
    proven: bool,
}

/// Why a socket that failed to present its id's token is closed.
const NEEDS_TOKEN: &str = "this player id needs its token";
/// Why a socket replaced by a token holder's newer one is closed.
const REPLACED: &str = "replaced by a newer connection";

/// The room task's state.
struct Room {
    /// The game, owned by this task alone.
    game: Game,
    /// The random source of food relocation and entry cells.
    rng: StdRng,
    /// Connected player sockets by player id.
    conns: HashMap<Uuid, Conn>,
    /// Sockets on trial, by player id: opened for a token-bound id while another socket
    /// of it is connected; the first to enter with the token replaces that one.
    pending: HashMap<Uuid, Conn>,
    /// Resume tokens of this game's player ids.
    tokens: Tokens,
    /// Players who left, and when each is forgotten.
    departures: Departures,
    /// Most players held, in the game or gone.
    max_players: usize,
    /// How long a player who left keeps its place.
    prune_after: Duration,
    /// The next [`ConnId`].
    next_conn: ConnId,
    /// Where world frames go.
    bus: Arc<dyn Bus>,
    /// Where changed rows go.
    writer: StoreWriter,
    /// Where the room counts rejections and times its publishes, for `/metrics`.
    metrics: Arc<Metrics>,
    /// Active players now, read by the lobby.
    players: Arc<AtomicUsize>,
    /// The cluster command being handled, if any: its frames carry its id.
    cause: Option<Uuid>,
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
    let Stored {
        game,
        departures,
        tokens,
        fresh,
    } = stored;
    let id = game.id;
    if fresh {
        for mut row in game.rows() {
            // a player gone keeps what is left of its time: the store forgets it when
            // the room would; a player keeps its token
            if row.kind == ObjectKind::Player {
                row.expires_ms = departures.expiry(row.object_id);
                row.token_hash = tokens.hash(row.object_id);
            }
            deps.writer.upsert(id, row);
        }
    }
    let (tx, mut rx) = mpsc::channel(COMMAND_QUEUE);
    let RoomDeps {
        bus,
        writer,
        metrics,
        idle,
        max_players,
        prune_after,
    } = deps;
    let mut room = Room {
        game,
        rng: StdRng::from_entropy(),
        conns: HashMap::new(),
        pending: HashMap::new(),
        tokens,
        departures,
        max_players,
        prune_after,
        next_conn: 1,
        bus,
        writer,
        metrics,
        players,
        cause: None,
    };
    room.date_departures();
    // a game loaded with active players (a take-over in a cluster) has them from the
    // start: the census must not say 0 until someone enters or leaves
    room.count_players();
    // checks for players due to be forgotten; a few times per prune time, at most once
    // a minute, so a player is kept at most that much longer
    let mut prune_tick =
        tokio::time::interval((prune_after / 4).clamp(PRUNE_TICK_MIN, PRUNE_TICK_MAX));
    prune_tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let task = async move {
        // armed whenever the last player socket is gone; a turn of the loop re-arms it
        // only on that change, so a busy room never touches the timer
        let idle_timer = tokio::time::sleep(idle);
        tokio::pin!(idle_timer);
        let mut was_idle = true;
        // once idle: waits until the store writer wrote every row of the game, so that a
        // game loaded back is never stale; commands keep flowing meanwhile
        let mut flushing: Option<Pin<Box<dyn Future<Output = ()> + Send>>> = None;
        let unloaded = loop {
            tokio::select! {
                biased;
                _ = shutdown.cancelled() => break false,
                command = rx.recv() => match command {
                    Some(command) => room.handle(command),
                    None => break false,
                },
                _ = &mut idle_timer, if was_idle && flushing.is_none() => {
                    let writer = room.writer.clone();
                    flushing = Some(Box::pin(async move { writer.flushed(id).await }));
                }
                Some(()) = OptionFuture::from(flushing.as_mut()), if flushing.is_some() => {
                    flushing = None;
                    if room.conns.is_empty() && lease.release_if(|| rx.is_empty()) {
                        break true;
                    }
                    idle_timer.as_mut().reset(tokio::time::Instant::now() + idle);
                }
                _ = prune_tick.tick() => room.prune(),
            }
            let idle_now = room.conns.is_empty();
            if idle_now && !was_idle {
                idle_timer
                    .as_mut()
                    .reset(tokio::time::Instant::now() + idle);
            }
            was_idle = idle_now;
        };
        tracing::info!(game = %room.game.id, unloaded, "room stopped");
    };
    (RoomHandle { tx }, task)
}

impl Room {
    fn handle(&mut self, command: Command) {
        match command {
            Command::Connect {
                player,
                outbox,
                reply,
            } => {
                let answer = self.connect(player, outbox);
                // the socket may have gone meanwhile; it then disconnects as usual
                let _ = reply.send(answer);
            }
            Command::Disconnect { player, conn } => {
                if self.conns.get(&player).is_some_and(|c| c.id == conn) {
                    self.conns.remove(&player);
                    self.leave(player);
                } else if self.pending.get(&player).is_some_and(|c| c.id == conn) {
                    self.pending.remove(&player);
                }
            }
            Command::Message {
                player,
                conn,
                message,
                cause,
            } => {
                // a frame from a socket that was dropped meanwhile is stale
                self.cause = cause;
                if self.pending.get(&player).is_some_and(|c| c.id == conn) {
                    self.on_trial(player, message);
                } else if let Some(current) = self.conns.get(&player).filter(|c| c.id == conn) {
                    if current.proven || self.proves(player, &message) {
                        self.message(player, message);
                    } else {
                        // the id is bound and this socket cannot show its token; a
                        // player it left active (a dead socket) leaves now
                        if let Some(conn) = self.conns.remove(&player) {
                            self.metrics.player_refused(PlayerRefusal::Token);
                            let _ = conn.outbox.try_send(Direct::Close(NEEDS_TOKEN));
                        }
                        self.leave(player);
                    }
                }
                self.cause = None;
            }
        }
    }

    fn connect(
        &mut self,
        player: Uuid,
        outbox: mpsc::Sender<Direct>,
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
    fn on_trial(&mut self, player: Uuid, message: ClientMessage) {
        // unwrap: the caller found it
        let mut conn = self.pending.remove(&player).unwrap();
        if !self.proves(player, &message) {
            self.metrics.player_refused(PlayerRefusal::Token);
            let _ = conn.outbox.try_send(Direct::Close(NEEDS_TOKEN));
            return;
        }
        conn.proven = true;
        if let Some(old) = self.conns.insert(player, conn) {
            let _ = old.outbox.try_send(Direct::Close(REPLACED));
        }
        tracing::debug!(%player, "a token holder replaced its stale socket");
        self.message(player, message);
    }

    fn message(&mut self, player: Uuid, message: ClientMessage) {
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
        let token = (request.want_token && known.is_none() && !self.tokens.is_bound(player))
            .then(|| self.tokens.bind(player, &mut self.rng));
        let entered = match rules::enter(&mut self.game, player, name, &mut self.rng) {
            Ok(entered) => entered,
            Err(e) => return self.error(player, e.to_string()),
        };
        self.departures.returned(player);
        let own = frame(&ServerMessage::Player {
            player_id: player,
            payload: entered.player.update(),
        });
        // entering again while in the game, on a socket that had its brief
        let again = self.conns.get_mut(&player).is_some_and(|c| {
            let again = c.entered && active;
            c.entered = true;
            again
        });
        if again {
            // this socket has its brief: only the (renamed) own position
            self.direct(player, Direct::Frame(own.clone()));
            self.publish(own);
            self.persist_player(player);
            return;
        }
        let game = &self.game;
        let mut brief = Vec::with_capacity(game.bricks.len() + game.food.len() + 16);
        if let Some(token) = token {
            brief.push(frame(&ServerMessage::Token {
                payload: TokenPayload { token },
            }));
        }
        brief.push(frame(&ServerMessage::Geometry {
            payload: game.board.into(),
        }));
        for (id, other) in game.active_players().filter(|(id, _)| *id != player) {
            brief.push(frame(&ServerMessage::Player {
                player_id: id,
                payload: other.update(),
            }));
        }
        brief.extend(game.bricks.iter().map(brick_frame));
        brief.extend(game.food.iter().map(food_frame));
        // the scoreboard: the best, and our own count (players who caught nothing have
        // none); the page hears of every later catch on the world socket
        let top = game.top_scores(SCOREBOARD_BRIEF);
        brief.extend(top.iter().map(|(id, p)| score_frame(*id, p)));
        if entered.player.score > 0 && !top.iter().any(|(id, _)| *id == player) {
            brief.push(score_frame(player, &entered.player));
        }
        brief.push(own.clone());
        // counted first: whoever sees the entry finds the lobby agreeing
        self.count_players();
        self.direct(player, Direct::Batch(brief));
        self.publish(own);
        self.persist_player(player);
        tracing::debug!(%player, returning = entered.returning, "player entered");
    }

    fn move_player(&mut self, player: Uuid, request: PlayerUpdate) {
        match rules::apply_move(&mut self.game, player, request, &mut self.rng) {
            MoveOutcome::NotEntered => self.error(player, "enter the game before moving".into()),
            MoveOutcome::PassedThrough(update) => {
                self.publish_player(player, update);
                self.persist_player(player);
            }
            MoveOutcome::Rejected { update, reason } => {
                self.metrics.reject(reason);
                self.publish_player(player, update);
                self.persist_player(player);
            }
            MoveOutcome::Accepted { update, caught } => {
                self.publish_player(player, update);
                self.persist_player(player);
                if let Some(caught) = caught {
                    let food = &self.game.food[caught.index];
                    self.publish(food_frame(food));
                    let row = Game::item_row(ObjectKind::Food, food);
                    self.writer.upsert(self.game.id, row);
                    if let Some(catcher) = self.game.player(player) {
                        self.publish(score_frame(player, catcher));
                    }
                    let line =
                        ServerMessage::server_chat(Uuid::new_v4().to_string(), "Good catch!");
                    self.direct(player, Direct::Frame(frame(&line)));
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
        self.publish(frame(&ServerMessage::Chat {
            player_id: ChatFrom::Player(player),
            payload: ChatLine {
                id: clean(&line.id, MAX_CHAT_ID_CHARS),
                name,
                text,
            },
        }));
    }

    /// Marks the player inactive and tells everyone, if it was in the game.
    fn leave(&mut self, player: Uuid) {
        if let Some(name) = rules::leave(&mut self.game, player) {
            // counted first: whoever sees the departure finds the lobby agreeing
            self.count_players();
            self.departures.left(player, self.expiry_from_now());
            self.publish(frame(&ServerMessage::Leaving {
                player_id: player,
                payload: LeavingPayload { name },
            }));
            self.persist_player(player);
        }
    }

    /// Tells the lobby how many players are in the game now.
    fn count_players(&self) {
        let active = self.game.active_players().count();
        self.players.store(active, Ordering::Relaxed);
    }

    fn publish_player(&self, player: Uuid, update: PlayerUpdate) {
        self.publish(frame(&ServerMessage::Player {
            player_id: player,
            payload: update,
        }));
    }

    /// Hands one world frame to the bus, timed for `/metrics`.
    fn publish(&self, frame: Frame) {
        let started = std::time::Instant::now();
        match self.cause {
            Some(cause) => self.bus.publish_caused(self.game.id, frame, cause),
            None => self.bus.publish(self.game.id, frame),
        }
        self.metrics.observe_bus_publish(started.elapsed());
    }

    fn persist_player(&self, player: Uuid) {
        if let Some(row) = self.player_row(player) {
            self.writer.upsert(self.game.id, row);
        }
    }

    /// A player's store row, with its expiry if it is gone, and its token's hash.
    fn player_row(&self, player: Uuid) -> Option<StoredObject> {
        let mut row = self.game.player_row(player)?;
        row.expires_ms = self.departures.expiry(player);
        row.token_hash = self.tokens.hash(player);
        Some(row)
    }

    /// When a player leaving now is forgotten.
    fn expiry_from_now(&self) -> i64 {
        now_ms().saturating_add(self.prune_after.as_millis() as i64)
    }

    /// Gives every player who left an expiry: the loaded rows of older files, or
    /// written by reference servers, have none. Each is counted from now, and written
    /// with it, so the store forgets it too.
    fn date_departures(&mut self) {
        let undated: Vec<Uuid> = self
            .game
            .players()
            .filter(|(id, p)| !p.active && self.departures.expiry(*id).is_none())
            .map(|(id, _)| id)
            .collect();
        let expiry = self.expiry_from_now();
        for player in undated {
            self.departures.left(player, expiry);
            self.persist_player(player);
        }
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
            let Some(gone) = self.departures.soonest() else {
                return false;
            };
            // its row expires now: the store forgets it too
            if let Some(mut row) = self.player_row(gone) {
                row.expires_ms = Some(now_ms());
                self.writer.upsert(self.game.id, row);
            }
            self.forget(gone);
            self.metrics.players_pruned(1);
        }
        true
    }

    /// Forgets every player gone for longer than the prune time. Their store rows
    /// carry the same expiry, so the store forgets them by itself.
    fn prune(&mut self) {
        let due = self.departures.due(now_ms());
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
        self.departures.returned(player);
        self.game.remove_player(player);
        self.tokens.forget(player);
    }

    /// Refuses an `entering`: the game holds its most players.
    fn full(&mut self, player: Uuid) {
        self.metrics.player_refused(PlayerRefusal::Full);
        self.error(player, "the game is full".into());
    }

    fn error(&mut self, player: Uuid, reason: String) {
        let message = ServerMessage::Error {
            payload: ErrorPayload { reason },
        };
        self.direct(player, Direct::Frame(frame(&message)));
    }

    /// Sends to one player socket without waiting; a socket that cannot take it is
    /// dropped (its task sees the outbox close) and its player leaves.
    fn direct(&mut self, player: Uuid, message: Direct) {
        let Some(conn) = self.conns.get(&player) else {
            return;
        };
        match conn.outbox.try_send(message) {
            Ok(()) => {}
            Err(mpsc::error::TrySendError::Full(_)) => {
                self.metrics.socket_queue_drop();
                tracing::warn!(%player, "player socket too slow; dropping it");
                self.conns.remove(&player);
                self.leave(player);
            }
            Err(mpsc::error::TrySendError::Closed(_)) => {
                self.conns.remove(&player);
                self.leave(player);
            }
        }
    }
}

fn brick_frame(brick: &Item) -> Frame {
    frame(&ServerMessage::Brick {
        payload: item_payload(brick),
    })
}

/// A player's score (the scoreboard extension).
fn score_frame(id: Uuid, player: &Player) -> Frame {
    frame(&ServerMessage::Score {
        player_id: id,
        payload: ScorePayload {
            name: player.name.clone(),
            score: player.score,
        },
    })
}

fn food_frame(food: &Item) -> Frame {
    frame(&ServerMessage::Food {
        food_id: food.id,
        payload: item_payload(food),
    })
}

fn item_payload(item: &Item) -> ObjectPayload {
    ObjectPayload {
        x: item.cell.x,
        y: item.cell.y,
        name: item.name.clone(),
    }
}
