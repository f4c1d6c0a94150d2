//! Several instances, one game: every game has exactly one owner among the instances
//! that share a Pulsar service and a Cassandra keyspace; the others forward their
//! players' commands to it.
//!
//! - **Ownership** comes from Pulsar: commands go to a partitioned *command* topic, the
//!   partition chosen by the game id ([`partition`]); every instance subscribes to it in
//!   one Failover subscription under its own name, so the broker makes exactly one
//!   instance the active consumer of each partition, and that instance owns the games
//!   of the partition ([`ownership`], learnt from its own pings: pulsar-rs does not
//!   report active-consumer changes). When an instance dies or leaves, the broker gives
//!   its partitions to the others.
//! - **Forwarding**: the sockets talk to a [`gateway`] per game, which looks like a
//!   room; it sends each command to the game's partition, whoever owns it (also when
//!   that is this instance). The owner's [`host`] runs the room and sends direct replies
//!   back on the *direct* topic, to the instance holding the socket.
//! - **Fencing** comes from Cassandra: a take-over bumps the game's epoch with one
//!   lightweight transaction; see [`fencing`].
//! - **Nothing lost**: a new owner starts from the stored game plus the world frames
//!   published since ([`replay`]).
//!
//! Topics and their schemas: [`envelope`]. Pulsar plumbing: [`link`].

pub mod envelope;
pub mod fencing;
pub mod gateway;
pub mod host;
pub mod link;
pub mod ownership;
pub mod partition;
pub mod replay;

use std::collections::HashMap;
use std::sync::atomic::AtomicU64;
use std::sync::{Arc, Mutex};
use std::time::Instant;

use protocol::Uuid;
use pulsar::{Consumer, TokioExecutor};
use tokio::sync::mpsc;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use self::gateway::Sockets;
use self::host::{HostHandle, Hosting};
use self::link::{Client, LinkError, Publishers, Received, Sender};
use self::ownership::{Ownership, PING_EVERY};
use self::partition::partition_of;
use crate::room::RoomHandle;

/// The command topic that goes with a world topic.
pub fn command_topic(world_topic: &str) -> String {
    format!("{world_topic}-commands")
}

/// The direct-reply topic that goes with a world topic.
pub fn direct_topic(world_topic: &str) -> String {
    format!("{world_topic}-direct")
}

/// This instance's part of the cluster.
pub struct Cluster {
    /// This instance's id: its consumer name and the origin of its commands.
    instance: String,
    /// How many command partitions there are.
    partitions: u32,
    /// Where commands and replies go.
    link: Sender,
    /// Where direct replies are delivered.
    sockets: Arc<Sockets>,
    /// Connection numbers, unique on this instance.
    next_conn: Arc<AtomicU64>,
    /// The gateways of the games with sockets here. A `std` mutex: held for a map
    /// operation only.
    gateways: Mutex<HashMap<Uuid, RoomHandle>>,
    /// Which partitions this instance owns; shared with the owner loop.
    ownership: Arc<Mutex<Ownership>>,
    /// Stops the gateways, the pinger and the consumers.
    stop: CancellationToken,
    /// Stops the owner loop (and so every host).
    stop_owning: CancellationToken,
    /// The running tasks, taken by `close`.
    tasks: Mutex<Option<Tasks>>,
}

struct Tasks {
    publishers: Publishers,
    owner: JoinHandle<()>,
    receiver: JoinHandle<Option<Consumer<Vec<u8>, TokioExecutor>>>,
    directs: JoinHandle<()>,
}

impl Cluster {
    /// Joins the cluster: producers, the owners' subscription, the direct topic.
    pub async fn start(
        client: &Client,
        world_topic: &str,
        instance: String,
        hosting: impl FnOnce(Sender) -> Hosting,
    ) -> Result<Self, LinkError> {
        let commands = command_topic(world_topic);
        let directs = direct_topic(world_topic);
        let partitions = link::partitions(client, &commands).await?;
        let stop = CancellationToken::new();
        let stop_owning = CancellationToken::new();
        let (sender, publishers) = link::start_senders(
            client,
            &commands,
            &directs,
            partitions,
            &instance,
            stop.clone(),
        )
        .await?;
        let sockets = Arc::new(Sockets::default());
        let direct_consumer = link::subscribe_directs(client, &directs, &instance).await?;
        let command_consumer = link::subscribe_commands(client, &commands, &instance).await?;
        let ownership = Arc::new(Mutex::new(Ownership::new(partitions)));
        let (received_tx, received_rx) = mpsc::channel(1024);
        let delivered = sockets.clone();
        let directs_task = tokio::spawn(link::receive_directs(
            direct_consumer,
            instance.clone(),
            move |direct| delivered.deliver(direct),
            stop.clone(),
        ));
        let receiver = tokio::spawn(link::receive_commands(
            command_consumer,
            received_tx,
            stop_owning.clone(),
        ));
        let owner = tokio::spawn(own(
            received_rx,
            hosting(sender.clone()),
            partitions,
            ownership.clone(),
        ));
        tracing::info!(%instance, partitions, topic = %commands, "joined the cluster");
        Ok(Cluster {
            instance,
            partitions,
            link: sender,
            sockets,
            next_conn: Arc::new(AtomicU64::new(1)),
            gateways: Mutex::new(HashMap::new()),
            ownership,
            stop,
            stop_owning,
            tasks: Mutex::new(Some(Tasks {
                publishers,
                owner,
                receiver,
                directs: directs_task,
            })),
        })
    }

    /// The room handle the sockets of `game` use here: the game's gateway.
    pub fn room(&self, game: Uuid) -> RoomHandle {
        // unwrap: the lock is never held across an await, and nothing panics under it
        let mut gateways = self.gateways.lock().unwrap();
        gateways
            .entry(game)
            .or_insert_with(|| {
                gateway::spawn(
                    game,
                    self.instance.clone(),
                    self.partitions,
                    self.link.clone(),
                    self.sockets.clone(),
                    self.next_conn.clone(),
                    self.stop.child_token(),
                )
            })
            .clone()
    }

    /// Whether this instance owns `game` now.
    pub fn owns(&self, game: Uuid) -> bool {
        let partition = partition_of(game, self.partitions);
        // unwrap: as in `room`
        self.ownership
            .lock()
            .unwrap()
            .owns(partition, Instant::now())
    }

    /// The partitions this instance owns now.
    pub fn owned_partitions(&self) -> Vec<u32> {
        // unwrap: as in `room`
        self.ownership.lock().unwrap().owned(Instant::now())
    }

    /// This instance's id.
    pub fn instance(&self) -> &str {
        &self.instance
    }

    /// Hands this instance's games over: stops taking commands (those not yet taken
    /// stay unacknowledged), stops the rooms and writes their rows, then leaves the
    /// subscription, so that the broker gives the partitions, and the commands not
    /// taken, to the other instances. Call it after the sockets closed (their
    /// departures are commands too) and before the world bus closes.
    pub async fn close(&self) {
        // unwrap: as in `room`
        let Some(tasks) = self.tasks.lock().unwrap().take() else {
            return;
        };
        // let the sockets' last commands (departures) leave first
        tokio::time::sleep(PING_EVERY / 5).await;
        self.stop_owning.cancel();
        let consumer = tasks.receiver.await.ok().flatten();
        let _ = tasks.owner.await;
        if let Some(mut consumer) = consumer {
            if let Err(e) = consumer.close().await {
                tracing::debug!(error = %e, "closing the owners' subscription");
            }
        }
        self.stop.cancel();
        // unwrap: as in `room`
        self.gateways.lock().unwrap().clear();
        let _ = tasks.directs.await;
        let _ = tasks.publishers.pings.await;
        tracing::info!(instance = %self.instance, "left the cluster");
    }
}

/// The owner loop: routes each received command to its game's host, starting one for
/// a game it does not host yet, and stops the hosts of partitions it lost.
async fn own(
    mut received: mpsc::Receiver<Received>,
    hosting: Hosting,
    partitions: u32,
    ownership: Arc<Mutex<Ownership>>,
) {
    let mut hosts: HashMap<Uuid, HostHandle> = HashMap::new();
    let mut check = tokio::time::interval(PING_EVERY);
    loop {
        tokio::select! {
            next = received.recv() => {
                let Some(Received { partition, command }) = next else { break };
                // unwrap: the lock is never held across an await
                ownership.lock().unwrap().heard(partition, Instant::now());
                if command.kind == envelope::Kind::Ping {
                    continue;
                }
                let game = command.game;
                let host = hosts.entry(game).or_insert_with(|| {
                    host::spawn(game, hosting.clone(), CancellationToken::new())
                });
                if host.tx.send(command).await.is_err() {
                    hosts.remove(&game);
                }
            }
            _ = check.tick() => {
                // unwrap: as above
                let lost = ownership.lock().unwrap().lost(Instant::now());
                if lost.is_empty() {
                    continue;
                }
                tracing::info!(?lost, "command partitions lost");
                let gone: Vec<Uuid> = hosts
                    .keys()
                    .filter(|g| lost.contains(&partition_of(**g, partitions)))
                    .copied()
                    .collect();
                for game in gone {
                    if let Some(host) = hosts.remove(&game) {
                        host.stop.cancel();
                        let _ = host.task.await;
                    }
                }
            }
        }
    }
    for (_, host) in hosts.drain() {
        host.stop.cancel();
        let _ = host.task.await;
    }
}
