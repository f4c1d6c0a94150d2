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
//! again to the new owner, which drops it until its take-over marker comes back through
//! the game's partition ([`super::redelivery`]).
//!
//! A host ends with its room when the room unloads itself (idle); the commands it had
//! taken but not applied by then go to the next host of the game here, which the owner
//! loop starts with the next command for it.

use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use protocol::{ClientMessage, Uuid};
use tokio::sync::mpsc;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use super::checkpoints::Checkpoints;
use super::envelope::{Command, ConnRef, Direct, Kind};
use super::gateway::PRESENCE_EVERY;
use super::hosting::Hosting;
use super::link::Sender;
use super::partition::partition_of;
use super::presence::Presence;
use super::redelivery::Redeliveries;
use super::takeover::take_over;
use bus_pulsar::contract::CENSUS;
use game_core::room::{self, ConnId, ConnectError, Lease, RoomHandle};

/// Direct messages the room may queue for one remote socket before it counts as slow.
const REMOTE_OUTBOX: usize = 64;

/// Commands queued for a host while it takes over or is busy.
const QUEUE: usize = 4096;

/// How long a host waits for its room's rows to be written when it stops.
const FLUSH_TIMEOUT: Duration = Duration::from_secs(10);

/// A running host: its command queue and task.
pub struct HostHandle {
    /// Commands for the game; closed once the host ends.
    pub tx: mpsc::Sender<Command>,
    /// Stops the host (the room stops, its rows are written).
    pub stop: CancellationToken,
    /// Ends after the room stopped and its rows were written, with the commands it took
    /// and did not apply because its room unloaded itself (idle).
    pub task: JoinHandle<Vec<Command>>,
}

/// Starts hosting `game`. `previous` is the task of the game's last host here, which
/// ended (its room unloaded itself when idle): this one takes over once it finished
/// (its rows written), and applies first the commands it left.
pub fn spawn(
    game: Uuid,
    hosting: Hosting,
    stop: CancellationToken,
    previous: Option<JoinHandle<Vec<Command>>>,
) -> HostHandle {
    let (tx, rx) = mpsc::channel(QUEUE);
    let task = tokio::spawn(run(game, hosting, rx, stop.clone(), previous));
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
    /// Who is still there: instances heard from, players not claimed since the
    /// take-over.
    presence: Presence,
    /// Recognises the commands the old owner applied, delivered again, until this
    /// take-over's marker comes back.
    redeliveries: Redeliveries,
    /// The game's command partition, where the marker goes.
    partition: u32,
    /// The game's active players, kept by the room, for the census.
    players: Arc<AtomicUsize>,
}

async fn run(
    game: Uuid,
    hosting: Hosting,
    mut rx: mpsc::Receiver<Command>,
    stop: CancellationToken,
    previous: Option<JoinHandle<Vec<Command>>>,
) -> Vec<Command> {
    let left = match previous {
        Some(previous) => tokio::select! {
            _ = stop.cancelled() => return Vec::new(),
            left = previous => left.unwrap_or_default(),
        },
        None => Vec::new(),
    };
    let started = Instant::now();
    let Some((stored, epoch, tail)) = take_over(game, &hosting, &stop).await else {
        return Vec::new();
    };
    let replayed = tail.frames.len();
    let marker = tail.marker.clone();
    tracing::info!(
        %game, epoch, replayed, instance = %hosting.instance,
        took_ms = started.elapsed().as_millis() as u64, "game taken over"
    );
    let presence = Presence::new(
        stored.game.active_players().map(|(id, _)| id),
        Instant::now(),
    );
    let generations = stored
        .game
        .players()
        .map(|(id, player)| (id, player.generation))
        .collect();
    let redeliveries = Redeliveries::new(tail.causes, generations, Uuid::new_v4());
    let room_stop = CancellationToken::new();
    // every row is written again under the new epoch: a late write of the old owner
    // can then never win over what this owner took over; the room unloads itself when
    // idle, and the host ends with it
    let writer = hosting.deps.writer.clone();
    let partitions = hosting.link.partitions();
    let players = Arc::new(AtomicUsize::new(0));
    let (room, room_task) = room::spawn(
        stored,
        hosting.deps.clone(),
        players.clone(),
        Lease::unlisted(),
        room_stop.clone(),
    );
    let mut room_task = tokio::spawn(room_task);
    // the room laid every row: the state taken over stands at the marker
    let mut checkpoints =
        Checkpoints::start(game, epoch, writer.clone(), hosting.world.clone(), marker);
    let mut host = Host {
        game,
        hosting,
        room,
        remotes: HashMap::new(),
        presence,
        partition: partition_of(game, partitions),
        redeliveries,
        players,
    };
    host.send_marker();
    for command in left {
        host.handle(command).await;
    }
    let mut tick = tokio::time::interval(PRESENCE_EVERY);
    let mut unloaded = false;
    loop {
        tokio::select! {
            _ = stop.cancelled() => break,
            _ = &mut room_task => {
                tracing::info!(%game, "idle game unloaded");
                unloaded = true;
                break;
            }
            command = rx.recv() => match command {
                Some(command) => host.handle(command).await,
                None => break,
            },
            _ = tick.tick() => {
                checkpoints.tick(&host.hosting.fence);
                host.expire().await;
                host.send_marker();
                let players = host.players.load(Ordering::Relaxed);
                host.hosting.world.notify(game, CENSUS, players.to_string());
            }
        }
    }
    // unloaded: the commands taken meanwhile (acknowledged) go to the game's next host
    // here; closing the queue first makes every later one go there too
    let mut left = Vec::new();
    if unloaded {
        rx.close();
        while let Ok(command) = rx.try_recv() {
            left.push(command);
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
    host.hosting.world.notify(game, CENSUS, 0.to_string());
    let fence = host.hosting.fence.clone();
    drop(host);
    checkpoints.finish(&fence);
    fence.release(game, epoch);
    if tokio::time::timeout(FLUSH_TIMEOUT, writer.flushed(game))
        .await
        .is_err()
    {
        tracing::warn!(%game, "rows of a game given up not written");
    }
    tracing::info!(%game, left = left.len(), "game handed over");
    left
}

/// How a remote socket the room does not know comes in: its `connect` (a new socket),
/// or a message or presence of a socket that connected under an earlier owner.
#[derive(Clone, Copy, Debug)]
enum Attach {
    New,
    Again,
}

impl Host {
    /// Publishes this take-over's marker into the game's partition, when due.
    fn send_marker(&mut self) {
        let Some(marker) = self.redeliveries.marker_due(Instant::now()) else {
            return;
        };
        let command = Command {
            game: self.game,
            origin: self.hosting.instance.clone(),
            kind: Kind::Ping,
            socket: None,
            frame: None,
            conns: None,
            id: Some(marker),
        };
        self.hosting.link.command(self.partition, command);
    }

    async fn handle(&mut self, command: Command) {
        if command.kind == Kind::Ping {
            // a marker; only this take-over's own counts
            if self.redeliveries.ping(command.id) {
                tracing::debug!(game = %self.game, "take-over marker back: no more redeliveries");
            }
            return;
        }
        let origin = command.origin;
        self.presence.heard(&origin, Instant::now());
        match command.kind {
            Kind::Connect => {
                if let Some(socket) = command.socket {
                    self.ensure(&origin, socket, Attach::New).await;
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
                if !self
                    .redeliveries
                    .is_new(command.id, socket.player, &message)
                {
                    return;
                }
                if let Some(room_conn) = self.ensure(&origin, socket, Attach::Again).await {
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
            Kind::Watch => {
                // the room's one brief goes back as any direct reply; the forwarder
                // ends when the room lets go of the outbox, once it sent it
                if let Some(socket) = command.socket {
                    let (outbox, inbox) = mpsc::channel(1);
                    if self.room.watch(outbox).await.is_ok() {
                        tokio::spawn(forward(
                            inbox,
                            self.hosting.link.clone(),
                            origin,
                            self.game,
                            socket,
                        ));
                    }
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
                    self.ensure(&origin, socket, Attach::Again).await;
                }
            }
            Kind::Ping => {}
        }
    }

    /// The room's connection for a remote socket, connecting it first if the room does
    /// not know it yet (its connect went to an earlier owner, or it is new).
    async fn ensure(&mut self, origin: &str, socket: ConnRef, how: Attach) -> Option<ConnId> {
        let key = (origin.to_string(), socket.conn);
        if let Some(remote) = self.remotes.get(&key) {
            return Some(remote.room_conn);
        }
        // the room's rules first: an id bound to a token lets the new socket in on
        // trial, and its token replaces the old socket (the room closes it through its
        // forwarder, whatever instance it is on); only the room may decide that
        let (outbox, mut inbox) = mpsc::channel(REMOTE_OUTBOX);
        let room_conn = match self.attach(socket.player, outbox, how).await {
            Ok(conn) => conn,
            Err(ConnectError::AlreadyConnected) => {
                // an id without a token, connected through another socket: the player
                // reconnected, most likely after its instance died (its sockets are
                // only dropped once it is silent for `presence::ORIGIN_LOST_AFTER`), and the
                // older socket gives way
                self.evict(socket.player).await;
                let (outbox, again) = mpsc::channel(REMOTE_OUTBOX);
                inbox = again;
                match self.attach(socket.player, outbox, how).await {
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
        self.presence.claimed(socket.player);
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

    /// Connects a remote socket to the room as `how` says.
    async fn attach(
        &self,
        player: Uuid,
        outbox: mpsc::Sender<room::Direct>,
        how: Attach,
    ) -> Result<ConnId, ConnectError> {
        match how {
            Attach::New => self.room.connect(player, outbox).await,
            Attach::Again => self.room.reattach(player, outbox).await,
        }
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
        for origin in self.presence.silent(now) {
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
        for player in self.presence.unclaimed(now) {
            // a connect and a disconnect make the room publish the departure
            let (outbox, _inbox) = mpsc::channel(1);
            if let Ok(conn) = self.room.connect(player, outbox).await {
                self.room.disconnect(player, conn).await;
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
