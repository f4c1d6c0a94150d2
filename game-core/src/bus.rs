//! The world bus: every world update goes through it, and comes back out of it into
//! this instance's [`Fanout`], which hands it to every local world socket.
//!
//! [`Bus`] is the port; [`inprocess`] is the default (one instance, nothing to
//! install), and the `bus-pulsar` crate runs the updates through an Apache Pulsar topic
//! so that many instances see the same stream.
//! Frames are serialized once, by the room, and shared as [`Frame`] (a reference-counted
//! string) by every socket that sends them.

pub mod batch;
pub mod inprocess;
pub mod recent;
pub mod wire;

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use async_trait::async_trait;
use protocol::{server::StatusPayload, ServerMessage, Uuid};
use tokio::sync::broadcast;

pub use recent::Keep;
pub use wire::Wire;

/// One serialized frame, cheap to clone: all sockets share its bytes.
pub type Frame = bytestring::ByteString;

/// Serializes `message` once into a shareable frame.
pub fn frame(message: &ServerMessage) -> Frame {
    Frame::from(message.to_json())
}

/// Where world updates go.
///
/// Every update carries `seq`, its number in the game's stream, given by the room
/// (the one place that orders the game): it only grows along the stream, also across
/// owners, and travels with the frame to every instance beside it, never inside it
/// (the reference stream's frames stay as they are; the batched stream writes it,
/// docs/protocol.md, "Resuming the world stream").
#[async_trait]
pub trait Bus: Send + Sync + 'static {
    /// Hands one world frame of `game`, numbered `seq`, to the bus, in order. Never
    /// waits: an implementation that talks to a network queues the frame and delivers
    /// it from a task of its own, so a slow or absent broker never stalls a game.
    fn publish(&self, game: Uuid, frame: Frame, seq: u64);
    /// Hands a frame caused by the command `cause` (a command that came with an id) to
    /// the bus: a bus shared by several instances records the cause with it, so that
    /// whoever replays the stream knows the command was applied; any other bus
    /// publishes it.
    fn publish_caused(&self, game: Uuid, frame: Frame, seq: u64, _cause: Uuid) {
        self.publish(game, frame, seq);
    }
    /// Waits (within a bounded time) until every frame handed over so far is on the
    /// bus, where other instances read it: an instance handing its games over calls it
    /// before the next owner may read the topic's tail. A bus with nobody else reading
    /// has nothing to wait for.
    async fn flush(&self) {}
    /// Delivers what is queued (within a bounded time) and releases the bus's resources.
    async fn close(&self);
}

/// This instance's local fan-out of world frames to its world sockets, per game.
///
/// One tokio broadcast channel per game that has world sockets here: one ring buffer
/// shared by every receiver of the game, so a frame is stored once however many sockets
/// read it, and encoded once ([`Wire`]) for all of them. A receiver that falls more than
/// the capacity behind gets `Lagged`, and its socket is closed: a slow reader is dropped
/// rather than allowed to hold frames for everyone. A game's channel goes away with its
/// last socket.
///
/// Sockets of the batched stream (`docs/protocol.md`) read a second ring per game, fed
/// by the game's [`batch`] task: each batch is built once and shared by all of them.
#[derive(Clone)]
pub struct Fanout {
    /// Each game's rings; world sockets subscribe to them. A `std` mutex: held for a
    /// map lookup, never across an `.await`.
    games: Arc<Mutex<HashMap<Uuid, Rings>>>,
    /// How far each socket may fall behind.
    capacity: usize,
    /// The shortest time between two batches of one game.
    batch_interval: Duration,
    /// Whether the bus delivers now; a change is announced to every world socket.
    bus_ok: Arc<AtomicBool>,
    /// How much of each game's stream is kept to resume clients ([`recent`]).
    keep: Keep,
    /// Subscriptions so far, to sweep the games whose kept updates expired now and
    /// then.
    subscriptions: Arc<AtomicU64>,
}

/// One game's broadcast rings.
struct Rings {
    /// Every frame, one message each: the reference stream.
    frames: broadcast::Sender<Wire>,
    /// The batched stream, while the game's batch task runs.
    batches: Option<broadcast::Sender<Wire>>,
    /// The game's latest updates, to resume clients.
    recent: recent::Recent,
    /// The number of the last update the batched stream sent (or will never send: it
    /// came before the stream started): a resumed socket gets the kept updates up to
    /// it, and the stream's batches after it.
    batched_through: Option<u64>,
    /// Since when the game has had no socket here: its kept updates go `keep.age`
    /// later (at once when nothing is kept).
    idle_since: Option<Instant>,
}

/// Sweep the games without sockets every this many subscriptions.
const SWEEP_EVERY: u64 = 64;

impl Fanout {
    /// A fan-out in which each socket may fall `capacity` frames (or batches) behind,
    /// and a game's batches go out at most every `batch_interval`.
    pub fn new(capacity: usize, batch_interval: Duration) -> Self {
        Fanout {
            games: Arc::default(),
            capacity: capacity.max(1),
            batch_interval,
            bus_ok: Arc::new(AtomicBool::new(true)),
            keep: Keep::NONE,
            subscriptions: Arc::default(),
        }
    }

    /// The same fan-out, keeping `keep` of each game's stream to resume clients.
    pub fn keeping(mut self, keep: Keep) -> Self {
        self.keep = keep;
        self
    }

    /// Hands `frame` (numbered `seq` in its game's stream, if it is a game's update) to
    /// every local world socket of `game`, and keeps it to resume clients.
    pub fn deliver(&self, game: Uuid, frame: Frame, seq: Option<u64>) {
        // unwrap: the lock is never held across an await, and nothing panics under it
        let mut games = self.games.lock().unwrap();
        if let Some(rings) = games.get_mut(&game) {
            let wire = Wire::text(&frame).numbered(seq);
            let now = Instant::now();
            if let Some(seq) = seq {
                rings.recent.push(seq, now, wire.clone());
            }
            if rings.frames.send(wire).is_ok() {
                rings.idle_since = None;
            } else if self.gone(rings, now) {
                // its last socket is gone, and what it kept expired: forget the channel
                games.remove(&game);
            }
        }
    }

    /// Whether a game whose rings nobody reads may be forgotten at `now`: nothing
    /// kept, or its last socket left longer than the age kept ago.
    fn gone(&self, rings: &mut Rings, now: Instant) -> bool {
        if !self.keep.enabled() {
            return true;
        }
        let since = *rings.idle_since.get_or_insert(now);
        now.duration_since(since) > self.keep.age
    }

    /// Forgets the games nobody reads whose kept updates expired (a game that went
    /// quiet with its last socket would otherwise keep its rings).
    fn sweep(&self, games: &mut HashMap<Uuid, Rings>) {
        if !self
            .subscriptions
            .fetch_add(1, Ordering::Relaxed)
            .is_multiple_of(SWEEP_EVERY)
        {
            return;
        }
        let now = Instant::now();
        games.retain(|_, rings| {
            rings.frames.receiver_count() > 0 || {
                rings.recent.expire(now);
                !self.gone(rings, now)
            }
        });
    }

    /// Hands `frame` to every local world socket of every game.
    pub fn deliver_all(&self, frame: Frame) {
        let wire = Wire::text(&frame);
        // unwrap: as in `deliver`
        let mut games = self.games.lock().unwrap();
        let now = Instant::now();
        games.retain(|_, rings| rings.frames.send(wire.clone()).is_ok() || !self.gone(rings, now));
    }

    /// A receiver of `game`'s frames, one message each, from now on.
    pub fn subscribe(&self, game: Uuid) -> broadcast::Receiver<Wire> {
        // unwrap: as in `deliver`
        let mut games = self.games.lock().unwrap();
        self.sweep(&mut games);
        let rings = self.rings(&mut games, game);
        rings.idle_since = None;
        rings.frames.subscribe()
    }

    /// A receiver of `game`'s batches: every frame published from now on, in order,
    /// several to a message. Starts the game's batch task if none runs.
    pub fn subscribe_batched(&self, game: Uuid) -> broadcast::Receiver<Wire> {
        self.resume_batched(game, None).0
    }

    /// [`Fanout::subscribe_batched`], resuming after update `after` (a client that
    /// reconnects, docs/protocol.md): also every update delivered after that one and
    /// before the first batch the receiver gets, if update `after` is still kept here
    /// (`None`: it is not, or no number was named; the client needs a brief). Taken
    /// under the lock with the receiver, so the two neither overlap nor leave a gap.
    pub fn resume_batched(
        &self,
        game: Uuid,
        after: Option<u64>,
    ) -> (broadcast::Receiver<Wire>, Option<Vec<Wire>>) {
        // unwrap: as in `deliver`
        let mut games = self.games.lock().unwrap();
        self.sweep(&mut games);
        let capacity = self.capacity;
        let rings = self.rings(&mut games, game);
        rings.idle_since = None;
        if let Some(batches) = &rings.batches {
            let missed = after.and_then(|n| rings.recent.after(n, rings.batched_through));
            return (batches.subscribe(), missed);
        }
        // the new task reads the frames delivered from now on: everything kept came
        // before
        rings.batched_through = rings.recent.newest();
        let missed = after.and_then(|n| rings.recent.after(n, rings.batched_through));
        let batches = broadcast::channel(capacity).0;
        let receiver = batches.subscribe();
        // the task reads the game's frames from now on: nothing published after this
        // subscription is missed
        tokio::spawn(batch::run(batch::Batcher {
            game,
            frames: rings.frames.subscribe(),
            batches: batches.clone(),
            fanout: self.clone(),
            interval: self.batch_interval,
        }));
        rings.batches = Some(batches);
        (receiver, missed)
    }

    /// Sends `game`'s next batch, whose newest update is numbered `through`, on
    /// `batches`; `false` when nobody reads it. Under the lock, so that a socket
    /// resuming at the same time gets the kept updates up to exactly this batch.
    fn send_batch(
        &self,
        game: Uuid,
        batches: &broadcast::Sender<Wire>,
        batch: Wire,
        through: Option<u64>,
    ) -> bool {
        // unwrap: as in `deliver`
        let mut games = self.games.lock().unwrap();
        if let Some(rings) = games.get_mut(&game) {
            if rings
                .batches
                .as_ref()
                .is_some_and(|b| b.same_channel(batches))
            {
                if let Some(through) = through {
                    rings.batched_through = Some(through);
                }
            }
        }
        batches.send(batch).is_ok()
    }

    /// Ends `game`'s batched stream if `batches` is still it and nobody reads it (or,
    /// with `force`, whoever reads it); `true` when it ended. Decided under the lock, so
    /// a socket subscribing at the same time either gets this stream before it ends (and
    /// counts as a reader) or starts a new one.
    fn end_batches(&self, game: Uuid, batches: &broadcast::Sender<Wire>, force: bool) -> bool {
        // unwrap: as in `deliver`
        let mut games = self.games.lock().unwrap();
        let Some(rings) = games.get_mut(&game) else {
            return true;
        };
        match &rings.batches {
            Some(current) if current.same_channel(batches) => {
                if force || current.receiver_count() == 0 {
                    rings.batches = None;
                    true
                } else {
                    false
                }
            }
            // a newer stream replaced this one
            _ => true,
        }
    }

    /// `game`'s rings, made if it has none.
    fn rings<'a>(&self, games: &'a mut HashMap<Uuid, Rings>, game: Uuid) -> &'a mut Rings {
        games.entry(game).or_insert_with(|| Rings {
            frames: broadcast::channel(self.capacity).0,
            batches: None,
            recent: recent::Recent::new(self.keep),
            batched_through: None,
            idle_since: None,
        })
    }

    /// Records whether the bus delivers now, and tells every world socket when that
    /// changes, so clients can show that updates are delayed.
    pub fn set_bus_ok(&self, ok: bool) {
        if self.bus_ok.swap(ok, Ordering::Relaxed) != ok {
            self.deliver_all(frame(&ServerMessage::Status {
                payload: StatusPayload { bus_ok: ok },
            }));
        }
    }

    pub fn bus_ok(&self) -> bool {
        self.bus_ok.load(Ordering::Relaxed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_game_s_frames_reach_only_its_own_sockets() {
        let fanout = Fanout::new(8, Duration::ZERO);
        let (a, b) = (Uuid::from_u128(1), Uuid::from_u128(2));
        let mut on_a = fanout.subscribe(a);
        let mut on_b = fanout.subscribe(b);
        fanout.deliver(a, Frame::from("for a"), None);
        fanout.deliver_all(Frame::from("for all"));
        assert_eq!(on_a.try_recv().unwrap(), Wire::text("for a"));
        assert_eq!(on_a.try_recv().unwrap(), Wire::text("for all"));
        assert_eq!(on_b.try_recv().unwrap(), Wire::text("for all"));
        assert!(on_b.try_recv().is_err());
    }

    #[test]
    fn a_game_without_sockets_keeps_no_channel() {
        let fanout = Fanout::new(8, Duration::ZERO);
        let game = Uuid::from_u128(1);
        drop(fanout.subscribe(game));
        fanout.deliver(game, Frame::from("nobody listens"), Some(1));
        assert!(fanout.games.lock().unwrap().is_empty());
        // a socket that comes later gets a fresh channel
        let mut later = fanout.subscribe(game);
        fanout.deliver(game, Frame::from("now"), Some(2));
        assert_eq!(later.try_recv().unwrap().json(), b"now");
    }

    fn keeping(updates: usize) -> Fanout {
        Fanout::new(64, Duration::from_millis(10)).keeping(Keep {
            updates,
            age: Duration::from_secs(60),
        })
    }

    fn update(n: u64) -> Frame {
        Frame::from(format!(r#"{{"n":{n}}}"#))
    }

    /// The numbers in a batch's text, in order.
    fn numbers(wire: &Wire) -> Vec<u64> {
        let batch: Vec<serde_json::Value> = serde_json::from_slice(wire.json()).unwrap();
        batch.iter().map(|f| f["seq"].as_u64().unwrap()).collect()
    }

    #[tokio::test]
    async fn a_resumed_socket_gets_what_it_missed_then_the_stream_without_a_gap_or_a_repeat() {
        let fanout = keeping(100);
        let game = Uuid::from_u128(3);
        let mut watcher = fanout.subscribe_batched(game);
        let mut seen = Vec::new();
        for n in 1..=5 {
            fanout.deliver(game, update(n), Some(n));
        }
        // the socket that broke saw up to 2; the batch task has sent some of the rest,
        // maybe not all: the missed ones and the next batches must add up exactly
        tokio::task::yield_now().await;
        let (mut resumed, missed) = fanout.resume_batched(game, Some(2));
        let missed = missed.expect("update 2 is kept");
        seen.extend(missed.iter().map(|w| w.seq().unwrap()));
        for n in 6..=8 {
            fanout.deliver(game, update(n), Some(n));
        }
        while seen.last() != Some(&8) {
            let batch = tokio::time::timeout(Duration::from_secs(5), resumed.recv())
                .await
                .unwrap()
                .unwrap();
            seen.extend(numbers(&batch));
        }
        assert_eq!(seen, [3, 4, 5, 6, 7, 8]);
        // the watcher that never broke got the same numbers, written in its batches
        let mut all = Vec::new();
        while all.last() != Some(&8) {
            all.extend(numbers(&watcher.recv().await.unwrap()));
        }
        assert_eq!(all, (1..=8).collect::<Vec<_>>());
    }

    #[test]
    fn a_number_not_kept_resumes_nothing() {
        let fanout = keeping(3);
        let game = Uuid::from_u128(3);
        let _watcher = fanout.subscribe(game);
        for n in 10..=20 {
            fanout.deliver(game, update(n), Some(n));
        }
        // too old, from the future, huge, and no number at all
        for after in [Some(1), Some(17), Some(21), Some(u64::MAX), None] {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap();
            let missed = runtime.block_on(async { fanout.resume_batched(game, after).1 });
            assert!(missed.is_none(), "{after:?}");
        }
    }

    #[test]
    fn a_game_s_updates_outlive_its_last_socket_for_a_while() {
        let fanout = keeping(100);
        let game = Uuid::from_u128(4);
        drop(fanout.subscribe(game));
        fanout.deliver(game, update(1), Some(1));
        fanout.deliver(game, update(2), Some(2));
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        let missed = runtime.block_on(async { fanout.resume_batched(game, Some(1)).1 });
        assert_eq!(
            missed.unwrap().iter().map(|w| w.seq()).collect::<Vec<_>>(),
            [Some(2)]
        );
    }
}
