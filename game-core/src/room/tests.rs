//! The room at its boundary, with no socket and no service: commands in through a
//! [`RoomHandle`], world frames out through a bus that records them, direct frames out
//! through each socket's outbox, and rows out through the real [`StoreWriter`] into a
//! store in memory. Tests run on tokio's paused clock unless they need the wall clock
//! (the players' expiries), so timers cost no time.

mod doubles;
mod history;
mod lifecycle;
mod play;
mod sockets;
mod watch;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use prometheus_client::registry::Registry;
use protocol::{
    server::{Geometry, SERVER_CHAT_NAME},
    Board, Cell, ChatFrom, ChatLine, ClientMessage, Entering, ObjectPayload, PlayerUpdate,
    ServerMessage, Uuid,
};
use rules::game::{Game, Item, Player};
use tokio::sync::mpsc;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use super::{
    load_game, spawn, ConnId, ConnectError, Departures, Direct, RoomDeps, RoomHandle, RoomMetrics,
    Stored,
};
use crate::bus::Frame;
use crate::clock::now_ms;
use crate::store::writer::{metrics::StoreMetrics, StoreWriter};
use crate::store::{ObjectKind, StoredObject};
use doubles::{recording_lease, MemoryStore, Published, RecordingBus};

/// How long a test waits for something the room is to do: on the paused clock it costs
/// nothing, on the wall clock it only bounds a failing test.
const PATIENCE: Duration = Duration::from_secs(10);

/// The game under test.
const GAME: Uuid = Uuid::from_u128(0x6a3e);
/// A board of 9 x 9 cells.
const BOARD: Board = Board {
    half_x: 5,
    half_y: 5,
};
/// Two players the game holds, gone for now: each comes back to its place.
const ANA: Uuid = Uuid::from_u128(0xa);
const BOB: Uuid = Uuid::from_u128(0xb);
/// Newcomers.
const CARA: Uuid = Uuid::from_u128(0xc);
const DAN: Uuid = Uuid::from_u128(0xd);
const ANA_AT: Cell = Cell::new(4, 4);
const BOB_AT: Cell = Cell::new(3, 3);
/// The one brick, east of Ana.
const BRICK_AT: Cell = Cell::new(5, 4);
/// The food: one south of Ana, two in corners.
const FOOD: [(Uuid, Cell); 3] = [
    (Uuid::from_u128(0xf0), Cell::new(4, 5)),
    (Uuid::from_u128(0xf1), Cell::new(0, 0)),
    (Uuid::from_u128(0xf2), Cell::new(8, 8)),
];

/// The game: a brick, three food items, and Ana and Bob gone (Ana the longer: she is
/// forgotten first).
fn known_game() -> Stored {
    let brick = Item {
        id: Uuid::from_u128(0xb0),
        name: "brick_0000".into(),
        cell: BRICK_AT,
    };
    let food = FOOD
        .iter()
        .enumerate()
        .map(|(i, (id, cell))| Item {
            id: *id,
            name: format!("food_{i:04}"),
            cell: *cell,
        })
        .collect();
    let mut game = Game::new(GAME, BOARD, vec![brick], food);
    let mut departures = Departures::default();
    for (i, (id, name, cell)) in [(ANA, "Ana", ANA_AT), (BOB, "Bob", BOB_AT)]
        .into_iter()
        .enumerate()
    {
        let player = Player {
            name: name.into(),
            cell: Some(cell),
            h: false,
            generation: 0,
            active: false,
            score: 0,
        };
        game.put_player(id, player);
        departures.left(id, now_ms() + 3_600_000 * (i as i64 + 1));
    }
    Stored {
        game,
        departures,
        tokens: Default::default(),
        fresh: true,
        last_seq: None,
    }
}

/// How a room under test is set up.
struct Setup {
    /// Most players the game holds.
    max_players: usize,
    /// How long the room stays loaded with no player socket.
    idle: Duration,
    /// How long a player who left keeps its place.
    prune_after: Duration,
    /// Whether the store takes writes from the start.
    store_open: bool,
    /// What the room's lease answers when the room asks to leave, in turn (then yes).
    lease_answers: Vec<bool>,
    /// The last number of the game's stream known at the load (a take-over's tail).
    last_seq: Option<u64>,
    /// Where the game's history goes (none by default).
    history: Option<crate::history::writer::HistoryWriter>,
    /// The wall clock (the system's by default).
    clock: Arc<dyn crate::clock::Clock>,
}

impl Default for Setup {
    fn default() -> Self {
        Setup {
            max_players: 100,
            idle: Duration::from_secs(3600),
            prune_after: Duration::from_secs(3600),
            store_open: true,
            lease_answers: Vec::new(),
            last_seq: None,
            history: None,
            clock: Arc::new(crate::clock::System),
        }
    }
}

impl Setup {
    /// Starts the room of [`known_game`].
    fn start(self) -> Room {
        let (tx, world) = mpsc::unbounded_channel();
        let store = Arc::new(MemoryStore::new(self.store_open));
        let (writer, _) = StoreWriter::spawn(store.clone(), StoreMetrics::default());
        let mut registry = Registry::with_prefix("drapetisca");
        let deps = RoomDeps {
            bus: Arc::new(RecordingBus(tx)),
            writer: writer.clone(),
            metrics: RoomMetrics::register(&mut registry),
            idle: self.idle,
            max_players: self.max_players,
            prune_after: self.prune_after,
            clock: self.clock,
            history: self.history,
        };
        let (lease, asked, released) = recording_lease(self.lease_answers);
        let players = Arc::new(AtomicUsize::new(0));
        let shutdown = CancellationToken::new();
        let stored = Stored {
            last_seq: self.last_seq,
            ..known_game()
        };
        let (handle, task) = spawn(stored, deps, players.clone(), lease, shutdown.clone());
        Room {
            handle,
            task: tokio::spawn(task),
            world,
            store,
            writer,
            registry,
            players,
            shutdown,
            asked,
            released,
        }
    }
}

/// A running room and everything it reaches.
struct Room {
    /// The sockets' way in.
    handle: RoomHandle,
    /// The room's task.
    task: JoinHandle<()>,
    /// What the room published.
    world: mpsc::UnboundedReceiver<Published>,
    /// Where its rows end up.
    store: Arc<MemoryStore>,
    /// The writer that writes them.
    writer: StoreWriter,
    /// Its figures.
    registry: Registry,
    /// Its active players, as the lobby reads them.
    players: Arc<AtomicUsize>,
    /// Stops it.
    shutdown: CancellationToken,
    /// How often it asked its lease to leave.
    asked: Arc<AtomicUsize>,
    /// How often the lease let it go.
    released: Arc<AtomicUsize>,
}

impl Room {
    /// Opens a socket for `player`, which must be let in.
    async fn connect(&self, player: Uuid) -> Socket {
        self.try_connect(player, 64).await.expect("connected")
    }

    /// Opens a socket for `player` whose outbox holds `capacity` direct messages.
    async fn try_connect(&self, player: Uuid, capacity: usize) -> Result<Socket, ConnectError> {
        let (outbox, inbox) = mpsc::channel(capacity);
        let conn = self.handle.connect(player, outbox).await?;
        Ok(Socket {
            player,
            conn,
            inbox,
            room: self.handle.clone(),
        })
    }

    /// Attaches a socket of `player` that entered under an earlier owner (a cluster's
    /// take-over), as `cluster::host` does.
    async fn reattach(&self, player: Uuid) -> Socket {
        let (outbox, inbox) = mpsc::channel(64);
        let conn = self
            .handle
            .reattach(player, outbox)
            .await
            .expect("attached");
        Socket {
            player,
            conn,
            inbox,
            room: self.handle.clone(),
        }
    }

    /// Ana and Bob, each in the game on a socket of their own; the world heard both.
    async fn ana_and_bob(&mut self) -> (Socket, Socket) {
        let mut ana = self.connect(ANA).await;
        ana.enter("Ana").await;
        let mut bob = self.connect(BOB).await;
        bob.enter("Bob").await;
        assert_eq!(self.heard().await, player_at(ANA, "Ana", ANA_AT, 0));
        assert_eq!(self.heard().await, player_at(BOB, "Bob", BOB_AT, 0));
        (ana, bob)
    }

    /// The next world frame.
    async fn published(&mut self) -> Published {
        let next = tokio::time::timeout(PATIENCE, self.world.recv()).await;
        next.expect("a world frame").expect("the bus is there")
    }

    /// The next world frame, caused by no command with an id.
    async fn heard(&mut self) -> ServerMessage {
        let published = self.published().await;
        assert_eq!((published.game, published.cause), (GAME, None));
        published.message
    }

    /// Asserts that nothing more was published (after [`settle`]).
    fn assert_world_quiet(&mut self) {
        if let Ok(more) = self.world.try_recv() {
            panic!("nothing more was to be published, but {more:?} was");
        }
    }

    /// `object`'s row as the store holds it, once the writer wrote what it was handed.
    async fn row(&self, kind: ObjectKind, object: Uuid) -> StoredObject {
        settle().await;
        self.writer.flushed(GAME).await;
        self.store.row(GAME, kind, object).expect("a row")
    }

    /// The figure `name` (with its labels) of `/metrics`.
    fn figure(&self, name: &str) -> u64 {
        let mut text = String::new();
        prometheus_client::encoding::text::encode(&mut text, &self.registry).unwrap();
        let value = text
            .lines()
            .find_map(|line| line.strip_prefix(name)?.strip_prefix(' '));
        match value {
            Some(value) => value.parse().expect("a count"),
            None => panic!("no figure {name} in\n{text}"),
        }
    }

    /// Rejected moves for `reason`.
    fn rejected(&self, reason: &str) -> u64 {
        self.figure(&format!(
            "drapetisca_moves_rejected_total{{reason=\"{reason}\"}}"
        ))
    }

    /// Players refused for `reason`.
    fn refused(&self, reason: &str) -> u64 {
        self.figure(&format!(
            "drapetisca_players_refused_total{{reason=\"{reason}\"}}"
        ))
    }

    /// Waits until the room's task ends (it unloaded or stopped), within `idle` and
    /// [`PATIENCE`].
    async fn stopped(&mut self, idle: Duration) {
        let stopped = tokio::time::timeout(PATIENCE + idle, &mut self.task).await;
        stopped
            .expect("the room stops")
            .expect("the room ends cleanly");
    }

    /// Active players, as the lobby reads them.
    fn players(&self) -> usize {
        self.players.load(Ordering::Relaxed)
    }
}

/// Lets everything that can run run: on the paused clock, time moves on only when every
/// task waits.
async fn settle() {
    tokio::time::sleep(Duration::from_millis(1)).await;
}

/// A player socket, as the edge holds it.
struct Socket {
    /// Its player id.
    player: Uuid,
    /// Its connection.
    conn: ConnId,
    /// Its direct frames.
    inbox: mpsc::Receiver<Direct>,
    /// Its room.
    room: RoomHandle,
}

/// What a socket got from its room.
#[derive(Debug, PartialEq)]
enum Got {
    Frame(ServerMessage),
    Batch(Vec<ServerMessage>),
    Close(&'static str),
    /// The room let go of the socket's outbox: the socket was dropped.
    Dropped,
}

impl Socket {
    async fn send(&self, message: ClientMessage) {
        let sent = self.room.send(self.player, self.conn, message).await;
        sent.expect("the room runs");
    }

    /// Enters under `name`; returns the brief.
    async fn enter(&mut self, name: &str) -> Vec<ServerMessage> {
        self.enter_with(Entering::named(name)).await
    }

    /// Sends `entering`; returns the brief.
    async fn enter_with(&mut self, entering: Entering) -> Vec<ServerMessage> {
        self.send(ClientMessage::Entering { payload: entering })
            .await;
        match self.next().await {
            Got::Batch(brief) => brief,
            other => panic!("a brief was due, got {other:?}"),
        }
    }

    /// The next thing the room sent.
    async fn next(&mut self) -> Got {
        let next = tokio::time::timeout(PATIENCE, self.inbox.recv()).await;
        let parse = |frame: Frame| ServerMessage::parse(&frame).expect("a protocol frame");
        match next.expect("the room answers") {
            Some(Direct::Frame(frame)) => Got::Frame(parse(frame)),
            Some(Direct::Batch(frames)) => Got::Batch(frames.into_iter().map(parse).collect()),
            Some(Direct::Close(reason)) => Got::Close(reason),
            None => Got::Dropped,
        }
    }

    /// Asserts that the room sent nothing more (after [`settle`]).
    fn assert_quiet(&mut self) {
        if let Ok(more) = self.inbox.try_recv() {
            panic!("nothing more was due, but {more:?} came");
        }
    }

    /// Leaves the game.
    async fn leave(&self, name: &str) {
        self.send(ClientMessage::Leaving {
            payload: Entering::named(name),
        })
        .await;
    }

    /// The socket closes.
    async fn disconnect(self) {
        self.room.disconnect(self.player, self.conn).await;
    }
}

/// A move to `to`, the client's `generation`-th, under `name`.
fn move_to(to: Cell, generation: i32, name: &str) -> ClientMessage {
    ClientMessage::Player {
        payload: update(to, generation, name),
    }
}

fn update(at: Cell, generation: i32, name: &str) -> PlayerUpdate {
    PlayerUpdate {
        x: Some(at.x),
        y: Some(at.y),
        h: false,
        generation,
        name: name.into(),
    }
}

/// `player`, named `name`, at `at`.
fn player_at(player: Uuid, name: &str, at: Cell, generation: i32) -> ServerMessage {
    ServerMessage::Player {
        player_id: player,
        payload: update(at, generation, name),
    }
}

/// `player` left, named `name`.
fn leaving(player: Uuid, name: &str) -> ServerMessage {
    ServerMessage::Leaving {
        player_id: player,
        payload: protocol::LeavingPayload { name: name.into() },
    }
}

fn chat_line(id: &str, name: &str, text: &str) -> ChatLine {
    ChatLine {
        id: id.into(),
        name: name.into(),
        text: text.into(),
    }
}

/// An `error` frame with `reason`.
fn error(reason: &str) -> Got {
    Got::Frame(ServerMessage::Error {
        payload: protocol::server::ErrorPayload {
            reason: reason.into(),
        },
    })
}

/// The frames of the board as every brief has them: geometry, the brick, the food.
fn board_frames() -> Vec<ServerMessage> {
    let mut frames = vec![
        ServerMessage::Geometry {
            payload: Geometry::from(BOARD),
        },
        ServerMessage::Brick {
            payload: object("brick_0000", BRICK_AT),
        },
    ];
    frames.extend(
        FOOD.iter()
            .enumerate()
            .map(|(i, (id, at))| ServerMessage::Food {
                food_id: *id,
                payload: object(&format!("food_{i:04}"), *at),
            }),
    );
    frames
}

fn object(name: &str, at: Cell) -> ObjectPayload {
    ObjectPayload {
        x: at.x,
        y: at.y,
        name: name.into(),
    }
}

/// Where a brief's player (its last frame) stands.
fn brief_cell(brief: &[ServerMessage]) -> Cell {
    match brief.last() {
        Some(ServerMessage::Player { payload, .. }) => {
            Cell::new(payload.x.unwrap(), payload.y.unwrap())
        }
        other => panic!("a brief ends with its player, not {other:?}"),
    }
}

/// Whether `message` is the server's "Good catch!".
fn is_good_catch(got: &Got) -> bool {
    matches!(got, Got::Frame(ServerMessage::Chat { player_id: ChatFrom::Server, payload })
        if payload.name == SERVER_CHAT_NAME && payload.text == "Good catch!")
}
