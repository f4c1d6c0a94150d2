//! The cluster's Pulsar plumbing: sending commands to a game's partition, pinging every
//! partition, receiving the commands of the partitions this instance owns, and the
//! direct replies both ways. Knows topics and messages, not games.

use std::time::{Duration, Instant};

use futures_util::StreamExt;
use pulsar::consumer::{InitialPosition, Message};
use pulsar::{Consumer, ConsumerOptions, Producer, ProducerOptions, SubType, TokioExecutor};
use tokio::sync::{mpsc, oneshot};
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use super::envelope::{Command, ConnRef, Direct, Kind};
use super::ownership::PING_EVERY;
use super::partition::{index_of, partition_topic};
use bus_pulsar::contract;

use bus_pulsar::Client;

/// A consumer of the cluster's topics (raw payloads: the schemas are for other readers).
pub type PulsarConsumer = Consumer<Vec<u8>, TokioExecutor>;

/// What waiting on a consumer gave. Returned by value once per message: boxing the
/// message would allocate once per message instead.
#[allow(clippy::large_enum_variant)]
enum Next {
    /// A message.
    Message(Message<Vec<u8>>),
    /// The stop token fired.
    Stopped,
    /// The consumer ended: the crate gave up on it.
    Ended,
}

/// The next message of `consumer`, skipping (and logging) errors, unless `stop` fires or
/// the consumer ends first; `which` names the consumer in the log.
async fn next_message(
    consumer: &mut PulsarConsumer,
    stop: &CancellationToken,
    which: &'static str,
) -> Next {
    loop {
        let next = tokio::select! {
            _ = stop.cancelled() => return Next::Stopped,
            next = consumer.next() => next,
        };
        match next {
            Some(Ok(message)) => return Next::Message(message),
            Some(Err(e)) => tracing::warn!(error = %e, consumer = which, "cluster consumer error"),
            None => {
                tracing::warn!(consumer = which, "cluster consumer ended");
                return Next::Ended;
            }
        }
    }
}

/// The subscription through which instances share the command partitions.
pub const OWNERS_SUBSCRIPTION: &str = "drapetisca-owners";

/// Messages that may wait for the broker in each outbox; past that new ones are dropped
/// (and logged): a player's command is then lost, as if the socket had hiccupped.
const OUTBOX: usize = 16_384;

/// What may go wrong setting the cluster up.
#[derive(Debug, thiserror::Error)]
pub enum LinkError {
    #[error("the command topic {topic} is not a partitioned topic; create it first, e.g. `pulsar-admin topics create-partitioned-topic {topic} -p 8`")]
    NotPartitioned { topic: String },
    #[error("pulsar refused {what} {topic}: {reason}")]
    Pulsar {
        what: &'static str,
        topic: String,
        reason: String,
    },
}

fn pulsar_error(what: &'static str, topic: &str, e: impl std::fmt::Display) -> LinkError {
    LinkError::Pulsar {
        what,
        topic: topic.into(),
        reason: e.to_string(),
    }
}

/// How many partitions the command topic has; refuses a topic that is not partitioned.
pub async fn partitions(client: &Client, topic: &str) -> Result<u32, LinkError> {
    let n = client
        .lookup_partitioned_topic_number(topic)
        .await
        .map_err(|e| pulsar_error("the partition lookup of", topic, e))?;
    if n == 0 {
        return Err(LinkError::NotPartitioned {
            topic: topic.into(),
        });
    }
    Ok(n)
}

/// The sending side: one producer per command partition and one on the direct topic,
/// each fed by an outbox so that callers never wait.
#[derive(Clone)]
pub struct Sender {
    /// Commands by partition, for the command publisher task.
    commands: mpsc::Sender<(u32, Command)>,
    /// Direct replies, for the direct publisher task.
    directs: mpsc::Sender<Direct>,
    /// How many command partitions there are.
    partitions: u32,
}

impl Sender {
    /// Queues `command` for `partition`; never waits.
    pub fn command(&self, partition: u32, command: Command) {
        if self.commands.try_send((partition, command)).is_err() {
            tracing::warn!(
                partition,
                "cluster command outbox full or closed: command dropped"
            );
        }
    }

    /// How many command partitions there are.
    pub fn partitions(&self) -> u32 {
        self.partitions
    }

    /// Queues a direct reply; never waits.
    pub fn direct(&self, direct: Direct) {
        if self.directs.try_send(direct).is_err() {
            tracing::warn!("cluster direct outbox full or closed: reply dropped");
        }
    }
}

/// The publisher tasks; they end when every [`Sender`] is dropped or `stop` fires.
pub struct Publishers {
    pub commands: JoinHandle<()>,
    pub directs: JoinHandle<()>,
    pub pings: JoinHandle<()>,
}

/// Creates the producers and starts the publisher tasks and the pinger.
pub async fn start_senders(
    client: &Client,
    command_topic: &str,
    direct_topic: &str,
    partitions: u32,
    instance: &str,
    stop: CancellationToken,
) -> Result<(Sender, Publishers), LinkError> {
    let mut producers = Vec::with_capacity(partitions as usize);
    for index in 0..partitions {
        let topic = partition_topic(command_topic, index);
        producers.push(producer(client, &topic, instance, contract::command_schema()).await?);
    }
    let direct = producer(client, direct_topic, instance, contract::direct_schema()).await?;
    let (commands_tx, commands_rx) = mpsc::channel(OUTBOX);
    let (directs_tx, directs_rx) = mpsc::channel(OUTBOX);
    let sender = Sender {
        commands: commands_tx,
        directs: directs_tx,
        partitions,
    };
    let pinger = sender.clone();
    let origin = instance.to_string();
    let ping_stop = stop.clone();
    let publishers = Publishers {
        commands: tokio::spawn(publish_commands(producers, commands_rx)),
        directs: tokio::spawn(publish_directs(direct, directs_rx)),
        pings: tokio::spawn(async move {
            let mut every = tokio::time::interval(PING_EVERY);
            loop {
                tokio::select! {
                    _ = ping_stop.cancelled() => break,
                    _ = every.tick() => {}
                }
                for partition in 0..partitions {
                    pinger.command(partition, ping(&origin));
                }
                pinger.direct(probe(&origin));
            }
        }),
    };
    Ok((sender, publishers))
}

fn ping(origin: &str) -> Command {
    Command {
        game: protocol::Uuid::nil(),
        origin: origin.into(),
        kind: Kind::Ping,
        socket: None,
        frame: None,
        conns: None,
        id: None,
    }
}

/// An empty direct reply to `origin` itself: its direct consumer hears it, or must be
/// subscribed again (see [`receive_directs`]). Delivering it does nothing (no frames,
/// no close).
fn probe(origin: &str) -> Direct {
    Direct {
        target: origin.into(),
        game: protocol::Uuid::nil(),
        socket: ConnRef {
            player: protocol::Uuid::nil(),
            conn: 0,
        },
        frames: Vec::new(),
        close: None,
    }
}

async fn producer(
    client: &Client,
    topic: &str,
    instance: &str,
    schema: pulsar::proto::Schema,
) -> Result<Producer<TokioExecutor>, LinkError> {
    client
        .producer()
        .with_topic(topic)
        .with_name(format!(
            "drapetisca-{instance}-{}",
            topic.rsplit('/').next().unwrap_or(topic)
        ))
        .with_options(ProducerOptions {
            schema: Some(schema),
            block_queue_if_full: true,
            ..Default::default()
        })
        .build()
        .await
        .map_err(|e| pulsar_error("a producer on", topic, e))
}

/// Sends commands in order per partition; a failed send is retried (the crate already
/// waited for the producer to come back), so one partition's order is kept.
async fn publish_commands(
    mut producers: Vec<Producer<TokioExecutor>>,
    mut commands: mpsc::Receiver<(u32, Command)>,
) {
    while let Some((partition, command)) = commands.recv().await {
        let Some(producer) = producers.get_mut(partition as usize) else {
            continue;
        };
        let key = command.game.to_string();
        // unwrap: a Command holds only strings, numbers and lists of them
        let payload = serde_json::to_vec(&command).unwrap();
        send(producer, payload, Some(key)).await;
    }
    for mut producer in producers {
        let _ = producer.close().await;
    }
}

async fn publish_directs(
    mut producer: Producer<TokioExecutor>,
    mut directs: mpsc::Receiver<Direct>,
) {
    while let Some(direct) = directs.recv().await {
        let key = direct.target.clone();
        // unwrap: a Direct holds only strings, numbers and lists of them
        let payload = serde_json::to_vec(&direct).unwrap();
        send(&mut producer, payload, Some(key)).await;
    }
    let _ = producer.close().await;
}

/// Sends one message without waiting for its receipt, retrying while the crate reports
/// the producer unavailable.
async fn send(producer: &mut Producer<TokioExecutor>, payload: Vec<u8>, key: Option<String>) {
    let message = pulsar::producer::Message {
        payload,
        partition_key: key,
        ..Default::default()
    };
    let mut attempt = 0u32;
    loop {
        match producer.send_non_blocking(message.clone()).await {
            Ok(receipt) => {
                // the receipt is not awaited: order is kept by the producer, and a lost
                // command is one a player re-sends (no client saw it validated)
                drop(receipt);
                return;
            }
            Err(e) => {
                attempt += 1;
                tracing::warn!(attempt, error = %e, "cluster send failed, retrying");
                tokio::time::sleep(Duration::from_millis(20 * u64::from(attempt.min(10)))).await;
            }
        }
    }
}

/// Subscribes to the command partitions in the shared Failover subscription, under
/// this instance's name: the broker makes one consumer active per partition.
pub async fn subscribe_commands(
    client: &Client,
    command_topic: &str,
    instance: &str,
) -> Result<PulsarConsumer, LinkError> {
    client
        .consumer()
        .with_topic(command_topic)
        .with_subscription(OWNERS_SUBSCRIPTION)
        .with_subscription_type(SubType::Failover)
        .with_consumer_name(instance)
        .with_options(
            ConsumerOptions::default()
                .durable(true)
                .with_schema(contract::command_schema())
                .with_initial_position(InitialPosition::Latest),
        )
        .build()
        .await
        .map_err(|e| pulsar_error("the owners' subscription to", command_topic, e))
}

/// Subscribes to the direct topic with a subscription of this instance's own (not
/// durable: a dead instance leaves nothing behind); `again` counts re-subscriptions,
/// each under a new name, so that the broker never holds it against the old one.
pub async fn subscribe_directs(
    client: &Client,
    direct_topic: &str,
    instance: &str,
    again: u32,
) -> Result<PulsarConsumer, LinkError> {
    let subscription = match again {
        0 => format!("drapetisca-direct-{instance}"),
        n => format!("drapetisca-direct-{instance}-{n}"),
    };
    client
        .consumer()
        .with_topic(direct_topic)
        .with_subscription(subscription)
        .with_subscription_type(SubType::Exclusive)
        .with_consumer_name(instance)
        .with_options(
            ConsumerOptions::default()
                .durable(false)
                .with_schema(contract::direct_schema())
                .with_initial_position(InitialPosition::Latest),
        )
        .build()
        .await
        .map_err(|e| pulsar_error("a subscription to", direct_topic, e))
}

/// One command received from an owned partition.
pub struct Received {
    /// The partition it came from.
    pub partition: u32,
    /// The command.
    pub command: Command,
    /// Told once the command is in its game's host queue: only then is it
    /// acknowledged. Dropped unanswered when this instance stops owning: the command
    /// stays unacknowledged, and the broker gives it to the next owner.
    pub taken: oneshot::Sender<()>,
}

/// Hands every command of the partitions this instance owns to `out`, acknowledging
/// each once taken; malformed messages are acknowledged and skipped. Returns the
/// consumer when stopped, still subscribed: closing it is what hands the partitions
/// over, which must wait until the games' rows are written. Only stopping ends it: an
/// instance that stays subscribed keeps its partitions, so a loop that ended otherwise
/// would leave their games with nobody applying their commands.
pub async fn receive_commands(
    mut consumer: PulsarConsumer,
    out: mpsc::Sender<Received>,
    stop: CancellationToken,
) -> Option<PulsarConsumer> {
    loop {
        let message = match next_message(&mut consumer, &stop, "command").await {
            Next::Message(message) => message,
            Next::Stopped => break,
            Next::Ended => return None,
        };
        let partition = index_of(&message.topic);
        let command = serde_json::from_slice::<Command>(&message.payload.data);
        match (partition, command) {
            (Some(partition), Ok(command)) => {
                let (taken, answer) = oneshot::channel();
                let received = Received {
                    partition,
                    command,
                    taken,
                };
                if out.send(received).await.is_err() {
                    // the owner loop stopped: not acknowledged, so the next owner gets it
                    return Some(consumer);
                }
                if answer.await.is_err() {
                    if stop.is_cancelled() {
                        // stopping: as above
                        return Some(consumer);
                    }
                    // the owner loop answers every command it does not stop on; should
                    // one go unanswered all the same, it stays unacknowledged (the next
                    // owner gets it) and the loop goes on
                    tracing::warn!(partition, "a command was not taken; left unacknowledged");
                    continue;
                }
            }
            (_, Err(e)) => tracing::warn!(error = %e, "malformed cluster command skipped"),
            (None, _) => tracing::warn!(topic = %message.topic, "command from an unknown topic"),
        }
        if let Err(e) = consumer.ack(&message).await {
            tracing::debug!(error = %e, "cluster command ack failed");
        }
    }
    Some(consumer)
}

/// How long the direct consumer may hear none of its own probes (sent with the pings,
/// every [`PING_EVERY`]) before it is subscribed again. After a partition between an
/// instance and the broker healed, pulsar-rs re-created the consumer and it never
/// delivered again, with neither an error nor an end (backend/tests/api/cluster/
/// partitions.rs): the instance's players got no brief and no reply. Its own probe
/// coming back is the only sign that the consumer works.
const DIRECT_SILENT_AFTER: Duration = Duration::from_secs(5);

/// Where [`receive_directs`] subscribes again.
pub struct DirectSource {
    /// The client of the consumers.
    pub client: Client,
    /// The direct topic.
    pub topic: String,
}

/// Hands every direct reply addressed to `instance` to `out`; subscribes again when
/// none of its own probes came for [`DIRECT_SILENT_AFTER`] or the consumer ended.
pub async fn receive_directs(
    source: DirectSource,
    mut consumer: PulsarConsumer,
    instance: String,
    out: impl Fn(Direct),
    stop: CancellationToken,
) {
    let mut heard = Instant::now();
    let mut again = 0u32;
    let mut check = tokio::time::interval(DIRECT_SILENT_AFTER / 5);
    loop {
        let silent = tokio::select! {
            _ = check.tick() => heard.elapsed() > DIRECT_SILENT_AFTER,
            next = next_message(&mut consumer, &stop, "direct") => match next {
                Next::Stopped => break,
                Next::Ended => true,
                Next::Message(message) => {
                    // only the target decodes: the key says who it is for
                    if message.payload.metadata.partition_key.as_deref() == Some(instance.as_str()) {
                        heard = Instant::now();
                        match serde_json::from_slice::<Direct>(&message.payload.data) {
                            Ok(direct) if direct.target == instance => out(direct),
                            Ok(_) => {}
                            Err(e) => tracing::warn!(error = %e, "malformed direct reply skipped"),
                        }
                    }
                    let _ = consumer.ack(&message).await;
                    false
                }
            },
        };
        if !silent {
            continue;
        }
        again += 1;
        tracing::warn!(
            silent_ms = heard.elapsed().as_millis() as u64,
            "cluster direct consumer heard nothing: subscribing again"
        );
        // bounded: while the broker is out of reach the subscription may never answer,
        // and this loop must go on checking (the old consumer stays until one does)
        let subscribing = subscribe_directs(&source.client, &source.topic, &instance, again);
        let fresh = tokio::select! {
            _ = stop.cancelled() => break,
            fresh = tokio::time::timeout(DIRECT_SILENT_AFTER, subscribing) => fresh,
        };
        match fresh {
            Ok(Ok(fresh)) => {
                consumer = fresh;
                heard = Instant::now();
            }
            Ok(Err(e)) => tracing::warn!(error = %e, "cluster direct re-subscription failed"),
            Err(_) => tracing::warn!("cluster direct re-subscription did not answer; trying again"),
        }
    }
    let _ = consumer.close().await;
}
