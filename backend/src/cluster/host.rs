//! The owner side of one game: takes the game over (a new epoch, the stored game plus
//! the world frames published since), runs its room, and stands in for the player
//! sockets of every instance: each remote socket gets an outbox here whose direct
//! frames are sent back to the socket's instance. Who is connected where is kept alive
//! by the instances' presence announcements: the sockets of an instance that falls
//! silent (killed) are disconnected, so its players do not stay on the board. Every
//! second the host tells every instance's lobby how many players the game has
//! ([`super::census`]).
//!
//! A command the old owner applied but had not acknowledged when it died is delivered
//! again to the new owner: the world frames it caused carry its id, so the new owner,
//! which read them in the tail, drops it (an `entering` must not brief twice, a chat
//! line must not show twice); a move is also recognised by its move counter, which
//! holds beyond the tail's window.

use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use protocol::{Board, ClientMessage, Uuid};
use rand::{rngs::StdRng, SeedableRng};
use tokio::sync::mpsc;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use super::envelope::{Command, ConnRef, Direct, Kind};
use super::fencing::Fence;
use super::gateway::PRESENCE_EVERY;
use super::link::{Client, Sender};
use super::{replay, tail};
use crate::registry::Lease;
use crate::room::{self, ConnId, ConnectError, RoomDeps, RoomHandle};
use crate::rules;
use crate::store::Store;

/// An instance whose presence has not been heard for this long has lost its sockets
/// (it died, or lost the broker); so has a player active at a take-over that no
/// instance claims within it.
pub const ORIGIN_LOST_AFTER: Duration = Duration::from_secs(3);

/// Direct messages the room may queue for one remote socket before it counts as slow.
const REMOTE_OUTBOX: usize = 64;

/// Commands queued for a host while it takes over or is busy.
const QUEUE: usize = 4096;

/// How long a host waits for its room's rows to be written when it stops.
const FLUSH_TIMEOUT: Duration = Duration::from_secs(10);

/// What every host of this instance shares.
#[derive(Clone)]
pub struct Hosting {
    /// This instance's id (recorded as the owner in the store).
    pub instance: String,
    /// Where games are loaded from.
    pub store: Arc<dyn Store>,
    /// What rooms run with: the bus, the store writer, counters, the idle time.
    pub deps: RoomDeps,
    /// Where direct replies go.
    pub link: Sender,
    /// The board of new games.
    pub board: Board,
    /// Stamps this instance's frames with its epochs; learns of newer owners.
    pub fence: Arc<Fence>,
    /// A Pulsar client, to read the world topic's tail at a take-over.
    pub client: Client,
    /// The world topic.
    pub world_topic: String,
}

/// A running host: its command queue and task.
pub struct HostHandle {
    /// Commands for the game.
    pub tx: mpsc::Sender<Command>,
    /// Stops the host (the room stops, its rows are written).
    pub stop: CancellationToken,
    /// Ends after the room stopped and its rows were written.
    pub task: JoinHandle<()>,
}

/// Starts hosting `game`.
pub fn spawn(game: Uuid, hosting: Hosting, stop: CancellationToken) -> HostHandle {
    let (tx, rx) = mpsc::channel(QUEUE);
    let task = tokio::spawn(run(game, hosting, rx, stop.clone()));
    HostHandle { tx, stop, task }
}

/// One remote socket, as the room sees it.
struct Remote {
    /// The player.
    player: Uuid,
    /// The room's connection number for it.
    room_conn: ConnId,
    /// Sends the room's direct frames for it back to its instance.
    forwarder: JoinHandle<()>,
}

/// The host's state once the game runs.
struct Host {
    game: Uuid,
    hosting: Hosting,
    room: RoomHandle,
    /// Remote sockets by (instance, connection).
    remotes: HashMap<(String, u64), Remote>,
    /// When each instance last announced its sockets of this game.
    heard: HashMap<String, Instant>,
    /// Players active when the game was taken over and not yet claimed by a socket,
    /// with the deadline after which they leave.
    orphans: HashSet<Uuid>,
    /// When the orphans leave.
    orphan_deadline: Instant,
    /// Each player's move counter at the take-over: a move that does not count past it
    /// is a command the old owner applied already, redelivered to us (the broker
    /// redelivers what the old owner had not acknowledged), and is dropped.
    generations: HashMap<Uuid, i32>,
    /// The ids of the commands the old owners applied, from the world topic's tail:
    /// when the broker delivers one again it is dropped.
    applied: HashSet<Uuid>,
    /// The game's active players, kept by the room, for the census.
    players: Arc<AtomicUsize>,
}

async fn run(
    game: Uuid,
    hosting: Hosting,
    mut rx: mpsc::Receiver<Command>,
    stop: CancellationToken,
) {
    let started = Instant::now();
    let Some((stored, epoch, tail)) = take_over(game, &hosting, &stop).await else {
        return;
    };
    let replayed = tail.frames.len();
    tracing::info!(
        %game, epoch, replayed, instance = %hosting.instance,
        took_ms = started.elapsed().as_millis() as u64, "game taken over"
    );
    let orphans: HashSet<Uuid> = stored.game.active_players().map(|(id, _)| id).collect();
    let generations = stored
        .game
        .players()
        .map(|(id, player)| (id, player.generation))
        .collect();
    let room_stop = CancellationToken::new();
    // every row is written again under the new epoch: a late write of the old owner
    // can then never win over what this owner took over; the room unloads itself when
    // idle, and the host ends with it
    let writer = hosting.deps.writer.clone();
    let players = Arc::new(AtomicUsize::new(0));
    let (room, room_task) = room::spawn(
        stored,
        hosting.deps.clone(),
        players.clone(),
        Lease::unlisted(game),
        room_stop.clone(),
    );
    let mut room_task = tokio::spawn(room_task);
    let mut host = Host {
        game,
        hosting,
        room,
        remotes: HashMap::new(),
        heard: HashMap::new(),
        orphans,
        orphan_deadline: Instant::now() + ORIGIN_LOST_AFTER,
        generations,
        applied: tail.causes,
        players,
    };
    let mut tick = tokio::time::interval(PRESENCE_EVERY);
    loop {
        tokio::select! {
            _ = stop.cancelled() => break,
            _ = &mut room_task => {
                tracing::info!(%game, "idle game unloaded");
                break;
            }
            command = rx.recv() => match command {
                Some(command) => host.handle(command).await,
                None => break,
            },
            _ = tick.tick() => {
                host.expire().await;
                let players = host.players.load(Ordering::Relaxed);
                host.hosting.deps.bus.publish_census(game, players);
            }
        }
    }
    // handing over (not fenced off): the commands already taken (and acknowledged) are
    // applied first, so that none is lost
    if stop.is_cancelled() && host.hosting.fence.stamp(game).is_some() {
        rx.close();
        while let Some(command) = rx.recv().await {
            host.handle(command).await;
        }
    }
    for (_, remote) in host.remotes.drain() {
        remote.forwarder.abort();
    }
    room_stop.cancel();
    if !room_task.is_finished() {
        let _ = room_task.await;
    }
    // the last census, while the fence still stamps it: nobody plays here any more
    host.hosting.deps.bus.publish_census(game, 0);
    let fence = host.hosting.fence.clone();
    drop(host);
    fence.release(game, epoch);
    if tokio::time::timeout(FLUSH_TIMEOUT, writer.flushed(game))
        .await
        .is_err()
    {
        tracing::warn!(%game, "rows of a game given up not written");
    }
    tracing::info!(%game, "game handed over");
}

/// Takes `game` over: claims a new epoch (so every instance drops what an earlier
/// owner publishes from the marker on), publishes the take-over marker, loads the
/// stored game and applies the world frames published since. Retries while the store
/// or the broker fails, until `stop` fires. Returns the game, the epoch and how many
/// frames were replayed.
async fn take_over(
    game: Uuid,
    hosting: &Hosting,
    stop: &CancellationToken,
) -> Option<(room::Stored, u64, tail::Tail)> {
    let mut backoff = Duration::from_millis(50);
    loop {
        let attempt = async {
            let epoch = hosting
                .store
                .claim_epoch(game, &hosting.instance)
                .await
                .map_err(|e| e.to_string())?;
            hosting.fence.own(game, epoch);
            let nonce = Uuid::new_v4().to_string();
            hosting.deps.bus.publish_marker(game, &nonce);
            let rows = hosting.store.load(game).await.map_err(|e| e.to_string())?;
            let tail = tail::read(&hosting.client, &hosting.world_topic, game, &nonce).await?;
            let mut state = replay::restore(game, hosting.board, &rows).unwrap_or_else(|| {
                rules::new_game(game, hosting.board, &mut StdRng::from_entropy())
            });
            for frame in &tail.frames {
                replay::apply(&mut state, frame);
            }
            // a player the tail shows back in the game has not left any more
            let mut departures = room::departures_of(&rows);
            for (player, _) in state.active_players() {
                departures.returned(player);
            }
            // fresh: every row is written again under the new epoch (a departed
            // player's with what is left of its expiry)
            let stored = room::Stored {
                game: state,
                departures,
                tokens: crate::tokens::Tokens::of_rows(&rows),
                fresh: true,
            };
            Ok::<_, String>((stored, epoch, tail))
        };
        let result = tokio::select! {
            _ = stop.cancelled() => return None,
            result = attempt => result,
        };
        match result {
            Ok(taken) => return Some(taken),
            Err(e) => tracing::warn!(%game, error = %e, "take-over failed, retrying"),
        }
        tokio::select! {
            _ = stop.cancelled() => return None,
            _ = tokio::time::sleep(backoff) => {}
        }
        backoff = (backoff * 2).min(Duration::from_secs(2));
    }
}

impl Host {
    async fn handle(&mut self, command: Command) {
        let origin = command.origin;
        self.heard.insert(origin.clone(), Instant::now());
        match command.kind {
            Kind::Connect => {
                if let Some(socket) = command.socket {
                    self.ensure(&origin, socket).await;
                }
            }
            Kind::Message => {
                let (Some(socket), Some(frame)) = (command.socket, command.frame) else {
                    return;
                };
                let message = match ClientMessage::parse(&frame) {
                    Ok(message) => message,
                    Err(e) => {
                        // the origin parsed it already: only a foreign producer gets here
                        tracing::warn!(error = %e, "unreadable forwarded frame skipped");
                        return;
                    }
                };
                if command.id.is_some_and(|id| self.applied.contains(&id)) {
                    tracing::debug!(player = %socket.player, "a redelivered command dropped");
                    return;
                }
                if let ClientMessage::Player { payload } = &message {
                    let applied = self.generations.get(&socket.player);
                    if applied.is_some_and(|g| payload.generation <= *g) {
                        tracing::debug!(player = %socket.player, "a redelivered move dropped");
                        return;
                    }
                }
                if let Some(room_conn) = self.ensure(&origin, socket).await {
                    let _ = self
                        .room
                        .send_caused(socket.player, room_conn, message, command.id)
                        .await;
                }
            }
            Kind::Disconnect => {
                if let Some(socket) = command.socket {
                    self.drop_remote(&origin, socket.conn).await;
                }
            }
            Kind::Presence => {
                let listed = command.conns.unwrap_or_default();
                let gone: Vec<u64> = self
                    .remotes
                    .keys()
                    .filter(|(o, conn)| *o == origin && !listed.iter().any(|s| s.conn == *conn))
                    .map(|(_, conn)| *conn)
                    .collect();
                for conn in gone {
                    self.drop_remote(&origin, conn).await;
                }
                for socket in listed {
                    self.ensure(&origin, socket).await;
                }
            }
            Kind::Ping => {}
        }
    }

    /// The room's connection for a remote socket, connecting it first if the room does
    /// not know it yet (its connect went to an earlier owner, or it is new).
    async fn ensure(&mut self, origin: &str, socket: ConnRef) -> Option<ConnId> {
        let key = (origin.to_string(), socket.conn);
        if let Some(remote) = self.remotes.get(&key) {
            return Some(remote.room_conn);
        }
        // the room's rules first: an id bound to a token lets the new socket in on
        // trial, and its token replaces the old socket (the room closes it through its
        // forwarder, whatever instance it is on); only the room may decide that
        let (outbox, mut inbox) = mpsc::channel(REMOTE_OUTBOX);
        let room_conn = match self.room.connect(socket.player, outbox).await {
            Ok(conn) => conn,
            Err(ConnectError::AlreadyConnected) => {
                // an id without a token, connected through another socket: the player
                // reconnected, most likely after its instance died (its sockets are
                // only dropped once it is silent for `ORIGIN_LOST_AFTER`), and the
                // older socket gives way
                self.evict(socket.player).await;
                let (outbox, again) = mpsc::channel(REMOTE_OUTBOX);
                inbox = again;
                match self.room.connect(socket.player, outbox).await {
                    Ok(conn) => conn,
                    Err(ConnectError::AlreadyConnected) => {
                        tracing::warn!(player = %socket.player, "player still connected in the room");
                        return None;
                    }
                    Err(ConnectError::Closed) => return None,
                }
            }
            Err(ConnectError::Closed) => return None,
        };
        self.orphans.remove(&socket.player);
        let forwarder = tokio::spawn(forward(
            inbox,
            self.hosting.link.clone(),
            origin.to_string(),
            self.game,
            socket,
        ));
        self.remotes.insert(
            key,
            Remote {
                player: socket.player,
                room_conn,
                forwarder,
            },
        );
        Some(room_conn)
    }

    /// Lets go of every remote socket of `player`, without a departure: its outbox
    /// closes, so the room takes a new socket of the player in its place.
    async fn evict(&mut self, player: Uuid) {
        let older: Vec<(String, u64)> = self
            .remotes
            .iter()
            .filter(|(_, r)| r.player == player)
            .map(|(k, _)| k.clone())
            .collect();
        for key in older {
            if let Some(remote) = self.remotes.remove(&key) {
                remote.forwarder.abort();
                // let the abort drop the outbox before the room looks at it
                let _ = remote.forwarder.await;
            }
        }
    }

    async fn drop_remote(&mut self, origin: &str, conn: u64) {
        if let Some(remote) = self.remotes.remove(&(origin.to_string(), conn)) {
            remote.forwarder.abort();
            self.room.disconnect(remote.player, remote.room_conn).await;
        }
    }

    /// Disconnects the sockets of instances that fell silent, and lets the players
    /// nobody claimed since the take-over leave.
    async fn expire(&mut self) {
        let now = Instant::now();
        let silent: Vec<String> = self
            .heard
            .iter()
            .filter(|(_, at)| now.duration_since(**at) >= ORIGIN_LOST_AFTER)
            .map(|(origin, _)| origin.clone())
            .collect();
        for origin in silent {
            self.heard.remove(&origin);
            let conns: Vec<u64> = self
                .remotes
                .keys()
                .filter(|(o, _)| *o == origin)
                .map(|(_, conn)| *conn)
                .collect();
            if !conns.is_empty() {
                tracing::info!(game = %self.game, %origin, sockets = conns.len(), "instance silent: its players leave");
            }
            for conn in conns {
                self.drop_remote(&origin, conn).await;
            }
        }
        if now >= self.orphan_deadline && !self.orphans.is_empty() {
            for player in std::mem::take(&mut self.orphans) {
                // a connect and a disconnect make the room publish the departure
                let (outbox, _inbox) = mpsc::channel(1);
                if let Ok(conn) = self.room.connect(player, outbox).await {
                    self.room.disconnect(player, conn).await;
                }
            }
        }
    }
}

/// Sends the room's direct frames for one remote socket back to its instance.
async fn forward(
    mut inbox: mpsc::Receiver<room::Direct>,
    link: Sender,
    target: String,
    game: Uuid,
    socket: ConnRef,
) {
    while let Some(direct) = inbox.recv().await {
        let frames = match direct {
            room::Direct::Frame(frame) => vec![frame.to_string()],
            room::Direct::Batch(frames) => frames.iter().map(|f| f.to_string()).collect(),
            room::Direct::Close(reason) => {
                link.direct(Direct {
                    target: target.clone(),
                    game,
                    socket,
                    frames: Vec::new(),
                    close: Some(reason.to_string()),
                });
                continue;
            }
        };
        link.direct(Direct {
            target: target.clone(),
            game,
            socket,
            frames,
            close: None,
        });
    }
}
