//! The socket side: for each game with player sockets on this instance, a task that
//! looks like the game's room to the sockets ([`RoomHandle`]) and forwards every
//! command to the game's owner through the command topic; and the delivery of the
//! owner's direct replies to the right socket. The sockets never learn where the game
//! runs, and the same path is taken when it runs here. Like a room, a gateway with no
//! socket for the idle time lets go of its place in the registry and ends.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use protocol::Uuid;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use super::envelope::{Command, ConnRef, Direct, Kind};
use super::link::Sender;
use game_core::bus::Frame;
use game_core::room::Lease;
use game_core::room::{self, ConnectError, RoomHandle};

/// How often each game's sockets here are announced to its owner.
pub const PRESENCE_EVERY: Duration = Duration::from_secs(1);

/// Commands the sockets of one game may have queued for its gateway task.
const QUEUE: usize = 4096;

/// Where the owner's direct replies go: the outbox of each player socket here.
#[derive(Default)]
pub struct Sockets {
    /// (game, socket) to the socket's outbox. A `std` mutex: held for a map operation,
    /// never across an `.await`.
    outboxes: Mutex<HashMap<(Uuid, ConnRef), mpsc::Sender<room::Direct>>>,
    /// (game, spectator) to where its one brief goes; taken by the brief's delivery,
    /// or let go by the gateway once the spectator stopped waiting.
    briefs: Mutex<HashMap<(Uuid, ConnRef), mpsc::Sender<room::Direct>>>,
}

impl Sockets {
    /// Delivers a direct reply to its socket, if the socket is still here; a socket
    /// whose outbox is full is let go (its task then closes it as too slow).
    pub fn deliver(&self, direct: Direct) {
        let key = (direct.game, direct.socket);
        let mut frames: Vec<Frame> = direct.frames.into_iter().map(Frame::from).collect();
        let message = match (frames.pop(), direct.close) {
            (None, Some(reason)) => room::Direct::Close(room::close_reason(&reason)),
            (Some(only), _) if frames.is_empty() => room::Direct::Frame(only),
            (Some(last), _) => {
                frames.push(last);
                room::Direct::Batch(frames)
            }
            (None, None) => return,
        };
        // a spectator's brief (or refusal) is the one message it waits for
        // unwrap: the lock is never held across an await, and nothing panics under it
        if let Some(brief) = self.briefs.lock().unwrap().remove(&key) {
            let _ = brief.try_send(message);
            return;
        }
        // unwrap: as above
        let mut outboxes = self.outboxes.lock().unwrap();
        if let Some(outbox) = outboxes.get(&key) {
            if let Err(mpsc::error::TrySendError::Full(_)) = outbox.try_send(message) {
                tracing::warn!(player = %key.1.player, "player socket too slow; dropping it");
                outboxes.remove(&key);
            }
        }
    }

    /// Whether `socket` of `game` is here and its socket task still reads.
    fn is_open(&self, game: Uuid, socket: ConnRef) -> bool {
        // unwrap: as in `deliver`
        let outboxes = self.outboxes.lock().unwrap();
        outboxes
            .get(&(game, socket))
            .is_some_and(|o| !o.is_closed())
    }

    fn insert(&self, game: Uuid, socket: ConnRef, outbox: mpsc::Sender<room::Direct>) {
        // unwrap: as in `deliver`
        self.outboxes.lock().unwrap().insert((game, socket), outbox);
    }

    fn remove(&self, game: Uuid, socket: ConnRef) {
        // unwrap: as in `deliver`
        self.outboxes.lock().unwrap().remove(&(game, socket));
    }

    fn await_brief(&self, game: Uuid, spectator: ConnRef, outbox: mpsc::Sender<room::Direct>) {
        // unwrap: as in `deliver`
        self.briefs
            .lock()
            .unwrap()
            .insert((game, spectator), outbox);
    }

    /// Forgets the briefs of `game` nobody waits for any more (their owner never
    /// answered, and the spectator gave up or left).
    fn forget_unawaited_briefs(&self, game: Uuid) {
        // unwrap: as in `deliver`
        self.briefs
            .lock()
            .unwrap()
            .retain(|(g, _), outbox| *g != game || !outbox.is_closed());
    }
}

/// Which game a gateway serves, and from where.
pub struct Place {
    /// The game.
    pub game: Uuid,
    /// This instance's id, the origin of every command.
    pub instance: String,
    /// The game's command partition.
    pub partition: u32,
}

/// Starts the gateway of a game: a room handle for the sockets here. The task ends
/// when `stop` fires, every handle is dropped, or it had no socket for `idle` and
/// `lease` let it go.
pub fn spawn(
    place: Place,
    link: Sender,
    sockets: Arc<Sockets>,
    next_conn: Arc<AtomicU64>,
    lease: Lease,
    idle: Duration,
    stop: CancellationToken,
) -> RoomHandle {
    let (tx, rx) = mpsc::channel(QUEUE);
    let gateway = Gateway {
        game: place.game,
        instance: place.instance,
        partition: place.partition,
        link,
        sockets,
        next_conn,
        conns: HashMap::new(),
    };
    tokio::spawn(gateway.run(rx, lease, idle, stop));
    RoomHandle::new(tx)
}

/// One game's gateway on this instance.
struct Gateway {
    /// The game.
    game: Uuid,
    /// This instance's id, the origin of every command.
    instance: String,
    /// The game's command partition.
    partition: u32,
    /// Where commands go.
    link: Sender,
    /// Where direct replies come back to.
    sockets: Arc<Sockets>,
    /// Connection numbers, unique on this instance.
    next_conn: Arc<AtomicU64>,
    /// The game's sockets here: player to connection (their outboxes are in
    /// `sockets` alone, so that letting go of one there closes the socket).
    conns: HashMap<Uuid, u64>,
}

impl Gateway {
    async fn run(
        mut self,
        mut rx: mpsc::Receiver<room::Command>,
        lease: Lease,
        idle: Duration,
        stop: CancellationToken,
    ) {
        let mut presence = tokio::time::interval(PRESENCE_EVERY);
        // armed whenever the last socket is gone, as a room's
        let idle_timer = tokio::time::sleep(idle);
        tokio::pin!(idle_timer);
        let mut was_idle = true;
        loop {
            tokio::select! {
                _ = stop.cancelled() => break,
                command = rx.recv() => match command {
                    Some(command) => self.handle(command),
                    None => break,
                },
                _ = presence.tick() => {
                    self.announce();
                    self.sockets.forget_unawaited_briefs(self.game);
                }
                _ = &mut idle_timer, if was_idle => {
                    if self.conns.is_empty() && lease.release_if(|| rx.is_empty()) {
                        tracing::debug!(game = %self.game, "idle gateway unloaded");
                        break;
                    }
                    idle_timer.as_mut().reset(tokio::time::Instant::now() + idle);
                }
            }
            let idle_now = self.conns.is_empty();
            if idle_now && !was_idle {
                idle_timer
                    .as_mut()
                    .reset(tokio::time::Instant::now() + idle);
            }
            was_idle = idle_now;
        }
        for (player, conn) in std::mem::take(&mut self.conns) {
            self.sockets.remove(self.game, ConnRef { player, conn });
        }
    }

    fn handle(&mut self, command: room::Command) {
        match command {
            room::Command::Connect {
                player,
                outbox,
                reply,
                ..
            } => {
                let current = self.conns.get(&player).map(|conn| ConnRef {
                    player,
                    conn: *conn,
                });
                if current.is_some_and(|socket| self.sockets.is_open(self.game, socket)) {
                    let _ = reply.send(Err(ConnectError::AlreadyConnected));
                    return;
                }
                let conn = self.next_conn.fetch_add(1, Ordering::Relaxed);
                let socket = ConnRef { player, conn };
                self.sockets.insert(self.game, socket, outbox);
                if let Some(old) = self.conns.insert(player, conn) {
                    self.sockets
                        .remove(self.game, ConnRef { player, conn: old });
                }
                self.send(Kind::Connect, Some(socket), None);
                let _ = reply.send(Ok(conn));
            }
            room::Command::Message {
                player,
                conn,
                message,
                ..
            } => {
                if self.conns.get(&player).is_some_and(|c| *c == conn) {
                    let socket = ConnRef { player, conn };
                    self.send(Kind::Message, Some(socket), Some(message.to_json()));
                }
            }
            room::Command::Watch { outbox } => {
                // a spectator is no socket of the game's: a made-up id, so that no
                // player's id is named, and a connection number of this instance's
                let conn = self.next_conn.fetch_add(1, Ordering::Relaxed);
                let spectator = ConnRef {
                    player: Uuid::new_v4(),
                    conn,
                };
                self.sockets.await_brief(self.game, spectator, outbox);
                self.send(Kind::Watch, Some(spectator), None);
            }
            room::Command::Disconnect { player, conn } => {
                if self.conns.get(&player).is_some_and(|c| *c == conn) {
                    self.conns.remove(&player);
                    let socket = ConnRef { player, conn };
                    self.sockets.remove(self.game, socket);
                    self.send(Kind::Disconnect, Some(socket), None);
                }
            }
        }
    }

    /// Tells the owner which sockets of the game are here, so that it keeps them (and
    /// a new owner learns them); an instance that stops announcing has lost them.
    fn announce(&mut self) {
        if self.conns.is_empty() {
            return;
        }
        let conns = self
            .conns
            .iter()
            .map(|(player, conn)| ConnRef {
                player: *player,
                conn: *conn,
            })
            .collect();
        let command = Command {
            game: self.game,
            origin: self.instance.clone(),
            kind: Kind::Presence,
            socket: None,
            frame: None,
            conns: Some(conns),
            id: None,
        };
        self.link.command(self.partition, command);
    }

    fn send(&self, kind: Kind, socket: Option<ConnRef>, frame: Option<String>) {
        let command = Command {
            game: self.game,
            origin: self.instance.clone(),
            kind,
            socket,
            frame,
            conns: None,
            id: Some(Uuid::new_v4()),
        };
        self.link.command(self.partition, command);
    }
}
