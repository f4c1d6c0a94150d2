//! Apache Pulsar as the world bus (the `pulsar` crate), chosen by `--pulsar-url`: an
//! implementation of the core's [`Bus`] port.
//!
//! Every world frame this instance publishes goes to ONE topic through ONE producer, and
//! comes back, with the frames of every other instance, through ONE consumer, which hands
//! each to the local [`Fanout`]. The message payload is exactly the world-socket JSON of
//! protocol.md, so any Pulsar client reading the topic sees the game. Two message
//! properties ride along: the publishing instance's id and a sequence number, which let
//! every consumer drop a frame it already delivered (see [`dedup`]).
//!
//! # Choices
//!
//! - **No producer batching.** A game publishes a few to a few hundred frames a second,
//!   each of which a player waits for; batching would hold a lone frame for the batch
//!   timeout (the Java client's default is 1 ms, and the crate's batch loop adds a task
//!   hop) to save broker work we do not need. Unbatched sends are still pipelined: the
//!   producer never waits for one receipt before sending the next frame; when the
//!   connection's queue is full a send waits (`block_queue_if_full`) instead of failing
//!   with `SlowDown`, and frames queue up in the outbox.
//! - **Two connections.** The producer and the consumer each get their own client, hence
//!   their own TCP connection: the published crate leaves Nagle's algorithm on, and on a
//!   shared connection a consumer ack held the next frame back until the broker's delayed
//!   ACK (about 40 ms per frame, measured). Apart, receipts acknowledge sends at once.
//!   The workspace builds the crate from `vendor/pulsar`, which sets `TCP_NODELAY` on
//!   every connection (reconnections too).
//! - **A durable subscription, removed on close.** The subscription is exclusive and
//!   named after this instance. It is durable because the broker forgets a non-durable
//!   one when it restarts, and the crate re-subscribes at the topic's end, losing the
//!   frames published between the broker's return and the re-subscription. Durable, it
//!   resumes where this instance stopped reading. [`Bus::close`] unsubscribes, so a
//!   stopped instance leaves no backlog; an instance that is killed leaves its
//!   subscription behind until the namespace's `subscriptionExpirationTimeMinutes`.
//! - **Riding out a broker restart.** The crate keeps the producer's unacknowledged
//!   frames and resends them, in order, before any new one, when it has re-created the
//!   producer; frames published meanwhile wait, in order, in this bus's bounded outbox.
//!   A resend can duplicate a frame the broker had stored but not acknowledged: the
//!   consumers' [`dedup`] drops it. The crate gives a frame up when it is unacknowledged
//!   the operation timeout (30 s) after its first send: only a frame that was in flight when the
//!   broker went away, and only if it stays away longer, can be lost that way.
//! - **Telling clients.** [`health`] watches this instance's own frames come back through
//!   the consumer; when one is late by [`DELAYED_AFTER`], or the consumer is down, the
//!   fan-out tells the world sockets that updates are delayed, and that they flow again
//!   once the late frames arrived. Moves are validated by the room all along.
//!
//! # Layout
//!
//! - [`contract`]: the topics, their properties and schemas. [`options`]: the
//!   settings, [`error`]: why setting up failed.
//! - [`setup`]: the two clients, the subscription and the producer; [`classify`] tells
//!   a refusal of our credentials from a connection failure, [`handshake`] asks the
//!   broker why it refused a connection.
//! - [`publisher`], [`receipts`], [`consumer`]: the bus's tasks, with [`health`]'s
//!   watchdog; [`dedup`] drops frames delivered twice; [`positions`] notes where each
//!   game's frames landed (a cluster's checkpoints).

mod classify;
mod consumer;
pub mod contract;
mod dedup;
pub mod error;
mod handshake;
mod health;
pub mod options;
pub mod positions;
mod publisher;
mod receipts;
pub mod retention;
mod setup;

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use tokio::sync::mpsc;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use consumer::ConsumerTask;
use game_core::bus::{Bus, Fanout, Frame};
use game_core::hook::{Stamp, WorldHook};
use health::Health;
use positions::{Landed, Positions};
use protocol::Uuid;
use publisher::{Body, Outgoing};

pub use error::BusError;
pub use options::PulsarOptions;
pub use setup::Client;

/// How late one of our own frames may come back before clients are told updates are
/// delayed: far above the broker's normal latency (under a millisecond locally, tens of
/// milliseconds to a managed service), well below what a player notices as frozen.
pub const DELAYED_AFTER: Duration = Duration::from_secs(1);

/// How many frames may wait for the broker; past that, new frames are dropped (and
/// counted in the log) rather than letting memory grow without bound during an outage.
/// At a few hundred frames a second this rides out minutes.
const OUTBOX_CAPACITY: usize = 65_536;

/// How long [`Bus::close`] waits for queued frames to be acknowledged, then for the
/// unsubscription.
const CLOSE_TIMEOUT: Duration = Duration::from_secs(5);

/// The Pulsar bus of one instance: an outbox drained by a publisher task, a consumer
/// task delivering to the fan-out, and a watchdog telling clients about delays.
pub struct PulsarBus {
    /// Frames waiting for the publisher task; `None` once closed.
    outbox: Mutex<Option<mpsc::Sender<Outgoing>>>,
    /// Frames in flight, for the watchdog and for numbering.
    health: Arc<Health>,
    /// Stops the consumer (which then unsubscribes) and the watchdog.
    stop: CancellationToken,
    /// The bus's tasks, awaited by `close`; `None` once closed.
    tasks: Mutex<Option<Tasks>>,
    /// Frames dropped because the outbox was full, reported once in a while.
    dropped: AtomicU64,
    /// Says what to stamp on each message (in a cluster: the owner's epoch).
    hook: Arc<dyn WorldHook>,
    /// Where each game's latest stamped frame landed on the topic.
    positions: Arc<Positions>,
}

/// A client like the bus's own (retries, keep-alive, token, TLS), for the cluster's
/// topics.
pub async fn client(options: &PulsarOptions) -> Result<Client, BusError> {
    let url = setup::url(options)?;
    let token = options.resolve_token()?;
    setup::client(&url, token.as_ref(), options).await
}

impl PulsarBus {
    /// Connects to the broker, subscribes to the topic and creates the producer, for
    /// the instance `instance` (its subscription's name, and the origin of its frames).
    /// `hook` stamps what it publishes and admits what it receives
    /// (`game_core::hook::Open` for an instance that shares no game). A wrong token, an
    /// unreachable broker or a bad topic fails here, with a message that says which.
    pub async fn connect(
        options: &PulsarOptions,
        fanout: Fanout,
        hook: Arc<dyn WorldHook>,
        instance: &str,
    ) -> Result<Self, BusError> {
        let url = setup::url(options)?;
        let token = options.resolve_token()?;
        let instance = instance.to_string();
        let subscription = format!("drapetisca-{instance}");
        let connected =
            setup::connect(&url, token.as_ref(), options, &instance, &subscription).await?;
        tracing::info!(%url, topic = %options.topic, %subscription, "pulsar bus connected");

        let health = Arc::new(Health::new());
        let positions = Arc::new(Positions::default());
        let stop = CancellationToken::new();
        let (outbox, frames) = mpsc::channel(OUTBOX_CAPACITY);
        let (receipts_tx, receipts) = mpsc::unbounded_channel();
        let consumer_task = ConsumerTask {
            client: connected.consumer_client,
            topic: options.topic.clone(),
            subscription,
            instance: instance.clone(),
            fanout: fanout.clone(),
            health: health.clone(),
            stop: stop.clone(),
            hook: hook.clone(),
        };
        let tasks = Tasks {
            publisher: tokio::spawn(publisher::publish_loop(
                connected.producer,
                instance,
                frames,
                receipts_tx,
            )),
            receipts: tokio::spawn(receipts::receipt_loop(
                receipts,
                health.clone(),
                positions.clone(),
            )),
            consumer: tokio::spawn(consumer_task.run(connected.consumer)),
            watchdog: tokio::spawn(health::watch(
                health.clone(),
                fanout,
                DELAYED_AFTER,
                stop.clone(),
            )),
        };
        Ok(PulsarBus {
            outbox: Mutex::new(Some(outbox)),
            health,
            stop,
            tasks: Mutex::new(Some(tasks)),
            dropped: AtomicU64::new(0),
            hook,
            positions,
        })
    }

    /// Queues one message; never waits.
    fn send(&self, game: Uuid, body: Body) {
        let epoch = match self.hook.stamp(game) {
            Stamp::Plain => None,
            Stamp::Epoch(epoch) => Some(epoch),
            // not (or no longer) the owner: what it would publish must not count
            Stamp::Withhold => return,
        };
        // unwrap: the lock is never held across an await, and nothing panics under it
        let outbox = self.outbox.lock().unwrap();
        let Some(outbox) = outbox.as_ref() else {
            return; // closed: the server is stopping
        };
        let sent = self.health.publish(|seq| {
            let outgoing = Outgoing {
                seq,
                game,
                epoch,
                body,
            };
            outbox.try_send(outgoing).is_ok()
        });
        if !sent {
            let dropped = self.dropped.fetch_add(1, Ordering::Relaxed) + 1;
            if dropped.is_power_of_two() {
                tracing::warn!(dropped, "pulsar outbox full: world frames dropped");
            }
        }
    }
}

impl PulsarBus {
    /// Publishes a notice about `game` for the instances (no frame for clients): one
    /// property `name` (of [`contract`]) with `value`, stamped like a frame. Queued like
    /// a frame; never waits.
    pub fn notify(&self, game: Uuid, name: &'static str, value: String) {
        self.send(game, Body::Notice(name, value));
    }

    /// Where the latest frame of `game` this instance published with an epoch stamp
    /// landed on the topic, once the broker acknowledged it.
    pub fn landed(&self, game: Uuid) -> Option<Landed> {
        self.positions.latest(game)
    }

    /// Forgets where `game`'s frames landed (this instance let the game go).
    pub fn forget_landed(&self, game: Uuid) {
        self.positions.forget(game);
    }
}

#[async_trait]
impl Bus for PulsarBus {
    fn publish(&self, game: Uuid, frame: Frame, update: u64) {
        self.send(
            game,
            Body::Frame {
                frame,
                update,
                cause: None,
            },
        );
    }

    fn publish_caused(&self, game: Uuid, frame: Frame, update: u64, cause: Uuid) {
        self.send(
            game,
            Body::Frame {
                frame,
                update,
                cause: Some(cause),
            },
        );
    }

    async fn flush(&self) {
        if tokio::time::timeout(CLOSE_TIMEOUT, self.health.delivered())
            .await
            .is_err()
        {
            tracing::warn!("world frames still in flight after {CLOSE_TIMEOUT:?}");
        }
    }

    async fn close(&self) {
        // dropping the sender lets the publisher send what is queued, then stop
        // unwrap: the lock is never held across an await, and nothing panics under it
        drop(self.outbox.lock().unwrap().take());
        // unwrap: as above
        let Some(tasks) = self.tasks.lock().unwrap().take() else {
            return; // closed already
        };
        let Tasks {
            mut publisher,
            mut receipts,
            consumer,
            watchdog,
        } = tasks;
        let drained = tokio::time::timeout(CLOSE_TIMEOUT, async {
            let _ = (&mut publisher).await;
            let _ = (&mut receipts).await;
        })
        .await;
        if drained.is_err() {
            // the broker is away: what is still queued is lost with this instance
            tracing::warn!("pulsar bus closed with frames not acknowledged");
            publisher.abort();
            receipts.abort();
        }
        self.stop.cancel();
        let _ = consumer.await;
        let _ = watchdog.await;
        tracing::info!("pulsar bus closed");
    }
}

/// The tasks of a running bus.
struct Tasks {
    /// Sends the outbox's frames.
    publisher: JoinHandle<()>,
    /// Awaits the broker's receipts.
    receipts: JoinHandle<()>,
    /// Delivers the topic's frames; unsubscribes when stopped.
    consumer: JoinHandle<()>,
    /// Keeps the fan-out's "bus ok" flag up to date.
    watchdog: JoinHandle<()>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_url_of_another_scheme_is_refused() {
        let options = PulsarOptions {
            url: Some("http://127.0.0.1:8080".into()),
            ..Default::default()
        };
        let fanout = Fanout::new(1, std::time::Duration::ZERO);
        let error = PulsarBus::connect(&options, fanout, Arc::new(game_core::hook::Open), "test")
            .await
            .err()
            .unwrap()
            .to_string();
        assert!(error.contains("pulsar://"), "{error}");
    }
}
