//! Apache Pulsar as the bus (the `pulsar` crate), chosen by `--pulsar-url`.
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
//!   their own TCP connection: the crate leaves Nagle's algorithm on, and on a shared
//!   connection a consumer ack holds the next frame back until the broker's delayed ACK
//!   (about 40 ms per frame, measured). Apart, receipts acknowledge sends at once.
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
//!   `OPERATION_TIMEOUT` after its first send: only a frame that was in flight when the
//!   broker went away, and only if it stays away longer, can be lost that way.
//! - **Telling clients.** [`health`] watches this instance's own frames come back through
//!   the consumer; when one is late by [`DELAYED_AFTER`], or the consumer is down, the
//!   fan-out tells the world sockets that updates are delayed, and that they flow again
//!   once the late frames arrived. Moves are validated by the room all along.

mod dedup;
mod handshake;
mod health;

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use futures_util::StreamExt;
use pulsar::consumer::InitialPosition;
use pulsar::{
    Authentication, ConnectionRetryOptions, Consumer, ConsumerOptions, OperationRetryOptions,
    Producer, ProducerOptions, Pulsar, SubType, TokioExecutor,
};
use tokio::sync::mpsc;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use super::{Bus, BusError, Fanout, Frame};
use crate::config::Secret;
use dedup::Dedup;
use health::Health;

/// The topic used when none is configured.
pub const DEFAULT_TOPIC: &str = "persistent://public/default/drapetisca-world";

/// How late one of our own frames may come back before clients are told updates are
/// delayed: far above the broker's normal latency (under a millisecond locally, tens of
/// milliseconds to a managed service), well below what a player notices as frozen.
pub const DELAYED_AFTER: Duration = Duration::from_secs(1);

/// How many frames may wait for the broker; past that, new frames are dropped (and
/// counted in the log) rather than letting memory grow without bound during an outage.
/// At a few hundred frames a second this rides out minutes.
const OUTBOX_CAPACITY: usize = 65_536;

/// How long start-up may take to reach the broker, subscribe and create the producer.
const STARTUP_TIMEOUT: Duration = Duration::from_secs(20);

/// How long [`Bus::close`] waits for queued frames to be acknowledged, then for the
/// unsubscription.
const CLOSE_TIMEOUT: Duration = Duration::from_secs(5);

/// The crate's limit for any answer from the broker, and for a frame's acknowledgement
/// (resends included); the crate's default.
const OPERATION_TIMEOUT: Duration = Duration::from_secs(30);

/// The consumer acknowledges every this many frames (cumulatively, the subscription
/// being exclusive), not each one: acks only bound what the broker redelivers after a
/// reconnection, which [`dedup`] drops anyway, and fewer small writes on the consumer's
/// connection keep Nagle's algorithm from delaying the flow permits behind them.
const ACK_EVERY: u64 = 32;

/// Message property naming the instance that published a frame.
const ORIGIN: &str = "drapetisca-origin";
/// Message property holding the frame's sequence number within its origin.
const SEQUENCE: &str = "drapetisca-seq";
/// Message property naming the game a frame belongs to (also the message key, so a
/// key-aware reader can follow one game).
const GAME: &str = "drapetisca-game";

/// How to reach Pulsar; an unset URL means the in-process bus. Argument ids carry a
/// `pulsar_` prefix: clap ids are shared by every flattened options struct.
#[derive(Clone, Debug, clap::Args)]
pub struct PulsarOptions {
    /// Pulsar service URL (pulsar:// or pulsar+ssl://); setting this selects the Pulsar
    /// bus instead of the in-process one
    #[arg(id = "pulsar_url", long = "pulsar-url", env = "DRAPETISCA_PULSAR_URL")]
    pub url: Option<String>,

    /// Full name of the world topic (persistent://tenant/namespace/topic)
    #[arg(
        id = "pulsar_topic",
        long = "pulsar-topic",
        env = "DRAPETISCA_PULSAR_TOPIC",
        default_value = DEFAULT_TOPIC
    )]
    pub topic: String,

    /// Authentication token (JWT) for the broker
    #[arg(
        id = "pulsar_token",
        long = "pulsar-token",
        env = "DRAPETISCA_PULSAR_TOKEN",
        hide_env_values = true,
        conflicts_with = "pulsar_token_file"
    )]
    pub token: Option<Secret>,

    /// File holding the authentication token (read at start-up; surrounding whitespace
    /// ignored)
    #[arg(
        id = "pulsar_token_file",
        long = "pulsar-token-file",
        env = "DRAPETISCA_PULSAR_TOKEN_FILE"
    )]
    pub token_file: Option<PathBuf>,

    /// PEM file of CA certificates to trust for pulsar+ssl://, besides the public roots
    #[arg(
        id = "pulsar_tls_ca_file",
        long = "pulsar-tls-ca-file",
        env = "DRAPETISCA_PULSAR_TLS_CA_FILE"
    )]
    pub tls_ca_file: Option<PathBuf>,
}

impl Default for PulsarOptions {
    /// What the flags default to: no URL (the in-process bus), the default topic.
    fn default() -> Self {
        PulsarOptions {
            url: None,
            topic: DEFAULT_TOPIC.into(),
            token: None,
            token_file: None,
            tls_ca_file: None,
        }
    }
}

impl PulsarOptions {
    /// The token from `--pulsar-token` or `--pulsar-token-file`, if any.
    pub fn resolve_token(&self) -> Result<Option<Secret>, BusError> {
        if let Some(token) = &self.token {
            return Ok(Some(token.clone()));
        }
        let Some(path) = &self.token_file else {
            return Ok(None);
        };
        let text = std::fs::read_to_string(path).map_err(|e| {
            BusError::Config(format!(
                "cannot read the pulsar token file {}: {e}",
                path.display()
            ))
        })?;
        // a token file's trailing newline is not part of the token
        let token = Secret::new(text.trim());
        if token.expose().is_empty() {
            return Err(BusError::Config(format!(
                "the pulsar token file {} is empty",
                path.display()
            )));
        }
        Ok(Some(token))
    }
}

type Client = Pulsar<TokioExecutor>;

/// A frame waiting for the publisher: its sequence number, its game, the frame.
type Outgoing = (u64, protocol::Uuid, Frame);

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
    dropped: std::sync::atomic::AtomicU64,
}

impl PulsarBus {
    /// Connects to the broker, subscribes to the topic and creates the producer. A
    /// wrong token, an unreachable broker or a bad topic fails here, with a message
    /// that says which.
    pub async fn connect(options: &PulsarOptions, fanout: Fanout) -> Result<Self, BusError> {
        let url = options
            .url
            .clone()
            .ok_or_else(|| BusError::Config("no pulsar url".into()))?;
        if !(url.starts_with("pulsar://") || url.starts_with("pulsar+ssl://")) {
            return Err(BusError::Config(format!(
                "the pulsar url must start with pulsar:// or pulsar+ssl://, not {url}"
            )));
        }
        let token = options.resolve_token()?;
        let instance = protocol::Uuid::new_v4().to_string();
        let subscription = format!("drapetisca-{instance}");

        let started = tokio::time::timeout(STARTUP_TIMEOUT, async {
            let consumer_client = client(&url, token.as_ref(), options).await?;
            let consumer: Consumer<Vec<u8>, TokioExecutor> =
                subscribe(&consumer_client, &options.topic, &subscription)
                    .await
                    .map_err(|e| setup_error(&url, "subscribe to", &options.topic, e))?;
            let producer_client = client(&url, token.as_ref(), options).await?;
            let producer = producer_client
                .producer()
                .with_topic(&options.topic)
                .with_name(format!("drapetisca-{instance}"))
                .with_options(ProducerOptions {
                    // a full connection queue makes the send wait (backpressure into
                    // the outbox) instead of failing the frame with SlowDown
                    block_queue_if_full: true,
                    ..Default::default()
                })
                .build()
                .await
                .map_err(|e| setup_error(&url, "create a producer on", &options.topic, e))?;
            Ok::<_, BusError>((consumer_client, consumer, producer))
        })
        .await
        .map_err(|_| {
            BusError::Connect(format!(
                "no answer from the pulsar broker at {url} within {STARTUP_TIMEOUT:?}"
            ))
        })?;
        let (consumer_client, consumer, producer) = match started {
            Ok(parts) => parts,
            Err(BusError::Connect(reason)) => {
                // the crate hides why the broker refused us: ask it ourselves
                return Err(handshake::explain(
                    &url,
                    token.as_ref(),
                    options.tls_ca_file.as_deref(),
                )
                .await
                .unwrap_or(BusError::Connect(reason)));
            }
            Err(e) => return Err(e),
        };
        tracing::info!(%url, topic = %options.topic, %subscription, "pulsar bus connected");

        let health = Arc::new(Health::new());
        let stop = CancellationToken::new();
        let (outbox, frames) = mpsc::channel(OUTBOX_CAPACITY);
        let (receipts_tx, receipts) = mpsc::unbounded_channel();
        let consumer_task = ConsumerTask {
            client: consumer_client,
            topic: options.topic.clone(),
            subscription,
            instance: instance.clone(),
            fanout: fanout.clone(),
            health: health.clone(),
            stop: stop.clone(),
        };
        let tasks = Tasks {
            publisher: tokio::spawn(publish_loop(producer, instance, frames, receipts_tx)),
            receipts: tokio::spawn(receipt_loop(receipts, health.clone())),
            consumer: tokio::spawn(consumer_task.run(consumer)),
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
            dropped: Default::default(),
        })
    }
}

#[async_trait]
impl Bus for PulsarBus {
    fn publish(&self, game: protocol::Uuid, frame: Frame) {
        // unwrap: the lock is never held across an await, and nothing panics under it
        let outbox = self.outbox.lock().unwrap();
        let Some(outbox) = outbox.as_ref() else {
            return; // closed: the server is stopping
        };
        let sent = self
            .health
            .publish(|seq| outbox.try_send((seq, game, frame)).is_ok());
        if !sent {
            use std::sync::atomic::Ordering::Relaxed;
            let dropped = self.dropped.fetch_add(1, Relaxed) + 1;
            if dropped.is_power_of_two() {
                tracing::warn!(dropped, "pulsar outbox full: world frames dropped");
            }
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

/// A client with one connection to the broker, retrying fast enough that play resumes
/// within a couple of seconds of the broker's return.
async fn client(
    url: &str,
    token: Option<&Secret>,
    options: &PulsarOptions,
) -> Result<Client, BusError> {
    let mut builder = Pulsar::builder(url, TokioExecutor)
        .with_connection_retry_options(ConnectionRetryOptions {
            min_backoff: Duration::from_millis(20),
            max_backoff: Duration::from_secs(1),
            max_retries: 12,
            connection_timeout: Duration::from_secs(5),
            keep_alive: Duration::from_secs(15),
            ..Default::default()
        })
        .with_operation_retry_options(OperationRetryOptions {
            operation_timeout: OPERATION_TIMEOUT,
            retry_delay: Duration::from_millis(500),
            max_retries: None,
        });
    if let Some(token) = token {
        builder = builder.with_auth(Authentication {
            name: "token".into(),
            data: token.expose().as_bytes().to_vec(),
        });
    }
    if let Some(ca) = &options.tls_ca_file {
        builder = builder.with_certificate_chain_file(ca).map_err(|e| {
            BusError::Config(format!(
                "cannot read the pulsar CA file {}: {e}",
                ca.display()
            ))
        })?;
    }
    builder
        .build()
        .await
        .map_err(|e| BusError::Connect(format!("cannot connect to pulsar at {url}: {e}")))
}

async fn subscribe(
    client: &Client,
    topic: &str,
    subscription: &str,
) -> Result<Consumer<Vec<u8>, TokioExecutor>, pulsar::Error> {
    client
        .consumer()
        .with_topic(topic)
        .with_subscription(subscription)
        .with_subscription_type(SubType::Exclusive)
        .with_consumer_name(subscription)
        .with_options(
            ConsumerOptions::default()
                .durable(true)
                .with_initial_position(InitialPosition::Latest),
        )
        .build()
        .await
}

fn setup_error(url: &str, what: &str, topic: &str, error: pulsar::Error) -> BusError {
    let text = error.to_string();
    if text.contains("AuthenticationError") || text.contains("AuthorizationError") {
        BusError::Auth(format!(
            "the pulsar broker at {url} refused to let us {what} {topic}: {text}"
        ))
    } else {
        BusError::Connect(format!("cannot {what} {topic} at {url}: {text}"))
    }
}

/// Sends the outbox's frames in order. A send waits only while the crate re-creates the
/// producer (the broker is away); frames queue up in the outbox meanwhile.
async fn publish_loop(
    mut producer: Producer<TokioExecutor>,
    instance: String,
    mut frames: mpsc::Receiver<Outgoing>,
    receipts: mpsc::UnboundedSender<(u64, pulsar::producer::SendFuture)>,
) {
    while let Some((seq, game, frame)) = frames.recv().await {
        let game = game.to_string();
        let message = pulsar::producer::Message {
            payload: frame.as_bytes().to_vec(),
            properties: HashMap::from([
                (ORIGIN.to_string(), instance.clone()),
                (SEQUENCE.to_string(), seq.to_string()),
                (GAME.to_string(), game.clone()),
            ]),
            partition_key: Some(game),
            ..Default::default()
        };
        let mut attempt = 0u32;
        loop {
            match producer.send_non_blocking(message.clone()).await {
                Ok(receipt) => {
                    let _ = receipts.send((seq, receipt));
                    break;
                }
                Err(e) => {
                    // the crate already waited up to the operation timeout for the
                    // producer to come back: keep this frame and try again
                    attempt += 1;
                    tracing::warn!(seq, attempt, error = %e, "pulsar send failed, retrying");
                    tokio::time::sleep(
                        Duration::from_millis(200).min(Duration::from_millis(20) * attempt),
                    )
                    .await;
                }
            }
        }
    }
    if let Err(e) = producer.close().await {
        tracing::debug!(error = %e, "closing the pulsar producer");
    }
}

/// Awaits the broker's receipts in publication order; a frame the crate gave up on is
/// logged and no longer waited for.
async fn receipt_loop(
    mut receipts: mpsc::UnboundedReceiver<(u64, pulsar::producer::SendFuture)>,
    health: Arc<Health>,
) {
    while let Some((seq, receipt)) = receipts.recv().await {
        if let Err(e) = receipt.await {
            tracing::error!(seq, error = %e, "pulsar lost a world frame");
            health.lost(seq);
        }
    }
}

/// The one consumer of this instance, and what it needs to come back after the crate
/// gave up on it.
struct ConsumerTask {
    /// The consumer's own client (connection).
    client: Client,
    /// The world topic.
    topic: String,
    /// This instance's durable subscription, removed on stop.
    subscription: String,
    /// This instance's id, to recognise its own frames.
    instance: String,
    /// Where frames go.
    fanout: Fanout,
    /// Told when our own frames come back, and whether the consumer is up.
    health: Arc<Health>,
    /// Ends the task, after unsubscribing.
    stop: CancellationToken,
}

impl ConsumerTask {
    async fn run(self, mut consumer: Consumer<Vec<u8>, TokioExecutor>) {
        let mut dedup = Dedup::default();
        let mut received = 0u64;
        loop {
            let next = tokio::select! {
                _ = self.stop.cancelled() => break,
                next = consumer.next() => next,
            };
            match next {
                Some(Ok(message)) => {
                    self.deliver(&mut dedup, &message.payload);
                    received += 1;
                    if received.is_multiple_of(ACK_EVERY) {
                        if let Err(e) = consumer.cumulative_ack(&message).await {
                            tracing::debug!(error = %e, "pulsar ack failed");
                        }
                    }
                }
                Some(Err(e)) => tracing::warn!(error = %e, "pulsar consumer error"),
                None => {
                    // the crate gave up re-subscribing: do it ourselves, same
                    // subscription, so nothing published meanwhile is missed
                    self.health.consumer_up(false);
                    tracing::warn!("pulsar consumer stopped: subscribing again");
                    match self.resubscribe().await {
                        Some(fresh) => consumer = fresh,
                        None => return,
                    }
                    self.health.consumer_up(true);
                }
            }
        }
        let unsubscribed = tokio::time::timeout(CLOSE_TIMEOUT, consumer.unsubscribe()).await;
        match unsubscribed {
            Ok(Ok(())) => tracing::debug!(subscription = %self.subscription, "unsubscribed"),
            Ok(Err(e)) => tracing::warn!(error = %e, "pulsar unsubscribe failed"),
            Err(_) => tracing::warn!("pulsar unsubscribe timed out"),
        }
    }

    fn deliver(&self, dedup: &mut Dedup, payload: &pulsar::Payload) {
        let property = |key: &str| {
            payload
                .metadata
                .properties
                .iter()
                .find(|kv| kv.key == key)
                .map(|kv| kv.value.as_str())
        };
        let origin = property(ORIGIN);
        let seq = property(SEQUENCE).and_then(|s| s.parse::<u64>().ok());
        if let (Some(origin), Some(seq)) = (origin, seq) {
            if !dedup.first_time(origin, seq) {
                return;
            }
            if origin == self.instance {
                self.health.echoed(seq);
            }
        }
        let Some(game) = property(GAME).and_then(|g| g.parse().ok()) else {
            tracing::warn!("a message on the world topic names no game: skipped");
            return;
        };
        match std::str::from_utf8(&payload.data) {
            Ok(text) => self.fanout.deliver(game, Frame::from(text)),
            Err(_) => tracing::warn!("a message on the world topic is not UTF-8: skipped"),
        }
    }

    /// Subscribes again until it works or the bus stops; `None` when stopped.
    async fn resubscribe(&self) -> Option<Consumer<Vec<u8>, TokioExecutor>> {
        let mut backoff = Duration::from_millis(100);
        loop {
            let attempt = subscribe(&self.client, &self.topic, &self.subscription);
            tokio::select! {
                _ = self.stop.cancelled() => return None,
                result = attempt => match result {
                    Ok(consumer) => return Some(consumer),
                    Err(e) => tracing::warn!(error = %e, "pulsar re-subscription failed"),
                },
            }
            tokio::select! {
                _ = self.stop.cancelled() => return None,
                _ = tokio::time::sleep(backoff) => {}
            }
            backoff = (backoff * 2).min(Duration::from_secs(2));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_default_topic_is_a_full_persistent_name() {
        assert_eq!(PulsarOptions::default().topic, DEFAULT_TOPIC);
        assert!(DEFAULT_TOPIC.starts_with("persistent://public/default/"));
    }

    #[test]
    fn a_token_is_never_printed() {
        let options = PulsarOptions {
            token: Some(Secret::new("secret.jwt.value")),
            ..Default::default()
        };
        assert!(!format!("{options:?}").contains("secret"));
    }

    #[test]
    fn a_token_file_is_read_trimmed_and_an_empty_one_refused() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("token");
        let options = PulsarOptions {
            token_file: Some(file.clone()),
            ..Default::default()
        };
        std::fs::write(&file, "  abc.def.ghi\n").unwrap();
        let token = options.resolve_token().unwrap().unwrap();
        assert_eq!(token.expose(), "abc.def.ghi");
        std::fs::write(&file, "\n").unwrap();
        let error = options.resolve_token().unwrap_err().to_string();
        assert!(error.contains("is empty"), "{error}");
    }

    #[tokio::test]
    async fn a_url_of_another_scheme_is_refused() {
        let options = PulsarOptions {
            url: Some("http://127.0.0.1:8080".into()),
            ..Default::default()
        };
        let error = PulsarBus::connect(&options, Fanout::new(1))
            .await
            .err()
            .unwrap()
            .to_string();
        assert!(error.contains("pulsar://"), "{error}");
    }
}
