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
//!   published since its checkpoint, however long ago ([`start`], [`tail`],
//!   [`replay`]); the owner records the checkpoint with the rows (the host).
//!
//! - **A cap on owned games** (`--max-owned-games`): a new game starts at its owner only
//!   below the cap, a running one is taken over whatever the count ([`owned_cap`], the
//!   rule; [`admission`], the owner loop's IO around it).
//! - **Composition**: [`placement::ClusterPlacement`] is the core's placement port for
//!   a cluster (sockets get a gateway), [`stream::Stream`] its world-stream hook (the
//!   Pulsar bus stamps and filters frames with the fence, and hands it the census).
//!
//! The topics' contract: `bus_pulsar::contract`; their messages as types: [`envelope`].
//! Pulsar plumbing: [`link`].

pub mod admission;
pub mod census;
pub mod checkpoints;
pub mod envelope;
pub mod fencing;
pub mod gateway;
pub mod host;
pub mod hosting;
pub mod link;
pub mod owned_cap;
pub mod ownership;
pub mod partition;
pub mod placement;
pub mod presence;
pub mod redelivery;
pub mod replay;
pub mod start;
pub mod stream;
pub mod tail;
pub mod takeover;

use std::collections::HashMap;
use std::sync::atomic::AtomicU64;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use protocol::Uuid;

use tokio::sync::mpsc;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use self::census::Census;
use self::gateway::Sockets;
use self::host::HostHandle;
use self::hosting::Hosting;
use self::link::{LinkError, Publishers, PulsarConsumer, Received, Sender};
use self::owned_cap::OwnedCap;
use self::ownership::{Ownership, PING_EVERY};
use self::partition::partition_of;
use bus_pulsar::contract::{command_topic, direct_topic};
use bus_pulsar::Client;
use game_core::room::Lease;
use game_core::room::RoomHandle;

/// This instance's part of the cluster.
pub struct Cluster {
    /// This instance's id: its consumer name and the origin of its commands.
    instance: String,
    /// How many command partitions there are.
    partitions: u32,
    /// Where commands and replies go; `None` once closed, so that the publishers end.
    link: Mutex<Option<Sender>>,
    /// The owners' subscription, kept open between `stop_hosting` and `close`.
    consumer: Mutex<Option<PulsarConsumer>>,
    /// Where direct replies are delivered.
    sockets: Arc<Sockets>,
    /// Connection numbers, unique on this instance.
    next_conn: Arc<AtomicU64>,
    /// Every game's players, as their owners last told.
    census: Arc<Census>,
    /// Which partitions this instance owns; shared with the owner loop.
    ownership: Arc<Mutex<Ownership>>,
    /// Stops the gateways, the pinger and the consumers.
    stop: CancellationToken,
    /// Stops the owner loop (and so every host).
    stop_owning: CancellationToken,
    /// The running tasks, taken by `close`.
    tasks: Mutex<Option<Tasks>>,
}

/// How long [`Cluster::close`] waits for queued commands to leave.
const CLOSE_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(5);

/// The cluster's tasks.
struct Tasks {
    /// The publishers and the pinger.
    publishers: Publishers,
    /// The owner loop; taken by `stop_hosting`.
    owner: Option<JoinHandle<()>>,
    /// Receives the owned partitions' commands; hands the consumer back when stopped.
    receiver: Option<JoinHandle<Option<PulsarConsumer>>>,
    /// Delivers direct replies.
    directs: JoinHandle<()>,
}

impl Cluster {
    /// Joins the cluster: producers, the owners' subscription, the direct topic. The
    /// producers use `client`, the consumers `consumer_client`: a client is one TCP
    /// connection, and the crate leaves Nagle's algorithm on, so on a shared connection
    /// a consumer's ack holds the next command back until the broker's delayed ACK
    /// (the same reason the world bus keeps two; see `bus::pulsar`).
    pub async fn start(
        client: &Client,
        consumer_client: &Client,
        world_topic: &str,
        instance: String,
        fenced: mpsc::UnboundedReceiver<Uuid>,
        census: Arc<Census>,
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
        let direct_consumer =
            link::subscribe_directs(consumer_client, &directs, &instance, 0).await?;
        let command_consumer =
            link::subscribe_commands(consumer_client, &commands, &instance).await?;
        let ownership = Arc::new(Mutex::new(Ownership::new(partitions)));
        let (received_tx, received_rx) = mpsc::channel(1024);
        let delivered = sockets.clone();
        let directs_task = tokio::spawn(link::receive_directs(
            link::DirectSource {
                client: consumer_client.clone(),
                topic: directs.clone(),
            },
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
            stop_owning.clone(),
            fenced,
            hosting(sender.clone()),
            partitions,
            ownership.clone(),
            census.clone(),
        ));
        tracing::info!(%instance, partitions, topic = %commands, "joined the cluster");
        Ok(Cluster {
            instance,
            partitions,
            link: Mutex::new(Some(sender)),
            consumer: Mutex::new(None),
            sockets,
            next_conn: Arc::new(AtomicU64::new(1)),
            census,
            ownership,
            stop,
            stop_owning,
            tasks: Mutex::new(Some(Tasks {
                publishers,
                owner: Some(owner),
                receiver: Some(receiver),
                directs: directs_task,
            })),
        })
    }

    /// Starts the gateway of `game`: the room handle its sockets here use. The
    /// registry lists it like a room; it lets go of `lease` after `idle` with no socket.
    pub fn gateway(&self, game: Uuid, lease: Lease, idle: Duration) -> RoomHandle {
        // unwrap: the lock is never held across an await, and nothing panics under it
        let link = self.link.lock().unwrap().clone();
        let Some(link) = link else {
            // closed: a handle whose room is gone refuses every socket
            return RoomHandle::new(mpsc::channel(1).0);
        };
        gateway::spawn(
            gateway::Place {
                game,
                instance: self.instance.clone(),
                partition: partition_of(game, self.partitions),
            },
            link,
            self.sockets.clone(),
            self.next_conn.clone(),
            lease,
            idle,
            self.stop.child_token(),
        )
    }

    /// The players of `game` across the cluster, as its owner last told (0 when it is
    /// played nowhere).
    pub fn players(&self, game: Uuid) -> usize {
        self.census.players(game, Instant::now())
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

    /// Stops owning games, first of the two steps of leaving: stops taking commands
    /// (those not yet taken stay unacknowledged, for the next owner), applies those
    /// taken, stops the rooms and writes their rows. Call it first when the instance
    /// stops: a command taken while draining would start a take-over here that fences
    /// the game's next owner off for nothing (the departures of this instance's own
    /// sockets then reach the next owner). Then flush the world bus (so that every
    /// frame the rooms published is out), then [`Cluster::hand_over`].
    pub async fn stop_hosting(&self) {
        // unwrap: the lock is never held across an await, and nothing panics under it
        let (receiver, owner) = {
            let mut tasks = self.tasks.lock().unwrap();
            let Some(tasks) = tasks.as_mut() else { return };
            (tasks.receiver.take(), tasks.owner.take())
        };
        self.stop_owning.cancel();
        if let Some(receiver) = receiver {
            // unwrap: as above
            *self.consumer.lock().unwrap() = receiver.await.ok().flatten();
        }
        if let Some(owner) = owner {
            let _ = owner.await;
        }
    }

    /// Hands this instance's partitions over, second of the three steps of leaving
    /// (after [`Cluster::stop_hosting`] and once the world bus is flushed, so that the
    /// frames of the games handed over are on the topic before a next owner reads its
    /// tail): closes the owners' subscription, so that the broker gives the partitions,
    /// with the commands this instance did not take, to the others at once. The sockets
    /// here go on forwarding to the new owners until [`Cluster::close`].
    pub async fn hand_over(&self) {
        self.stop_hosting().await;
        // unwrap: as in `stop_hosting`
        let consumer = self.consumer.lock().unwrap().take();
        if let Some(mut consumer) = consumer {
            if let Err(e) = consumer.close().await {
                tracing::debug!(error = %e, "closing the owners' subscription");
            }
            tracing::info!(instance = %self.instance, "command partitions handed over");
        }
    }

    /// Leaves the cluster: hands the partitions over if that is not done yet, then
    /// sends what is still queued (the sockets' departures) and stops.
    pub async fn close(&self) {
        self.hand_over().await;
        self.stop.cancel();
        // unwrap: as above
        drop(self.link.lock().unwrap().take());
        // unwrap: as above
        let Some(tasks) = self.tasks.lock().unwrap().take() else {
            return;
        };
        let _ = tasks.directs.await;
        let _ = tasks.publishers.pings.await;
        let flushed = tokio::time::timeout(CLOSE_TIMEOUT, async {
            let _ = tasks.publishers.commands.await;
            let _ = tasks.publishers.directs.await;
        })
        .await;
        if flushed.is_err() {
            tracing::warn!("cluster commands left unsent at shutdown");
        }
        tracing::info!(instance = %self.instance, "left the cluster");
    }
}

/// The owner loop: routes each received command to its game's host, starting one for
/// a game it does not host yet (or any more: a host ends when its room unloads itself
/// when idle), and stops the hosts of partitions it lost and of games a newer owner
/// took over. It answers every command it does not stop on: the receive loop waits for
/// that answer.
async fn own(
    mut received: mpsc::Receiver<Received>,
    stop: CancellationToken,
    mut fenced: mpsc::UnboundedReceiver<Uuid>,
    hosting: Hosting,
    partitions: u32,
    ownership: Arc<Mutex<Ownership>>,
    census: Arc<Census>,
) {
    let mut hosts: HashMap<Uuid, HostHandle> = HashMap::new();
    let mut cap = OwnedCap::new(hosting.max_owned_games);
    let mut check = tokio::time::interval(PING_EVERY);
    loop {
        tokio::select! {
            biased;
            // stopping: what is still queued stays unacknowledged, for the next owner
            _ = stop.cancelled() => break,
            next = received.recv() => {
                let Some(Received { partition, command, taken }) = next else { break };
                // unwrap: the lock is never held across an await
                ownership.lock().unwrap().heard(partition, Instant::now());
                if command.kind == envelope::Kind::Ping {
                    // an instance's ping (nil game) only tells ownership; a host's
                    // take-over marker goes back to it, and starts no host
                    if let Some(host) = hosts.get(&command.game) {
                        let _ = host.tx.send(command).await;
                    }
                    let _ = taken.send(());
                    continue;
                }
                let game = command.game;
                if !admission::admit(&mut hosts, &mut cap, &command, &census, &hosting) {
                    let _ = taken.send(());
                    continue;
                }
                let Some(host) = hosts.get_mut(&game) else {
                    let _ = taken.send(());
                    continue;
                };
                if let Err(mpsc::error::SendError(command)) = host.tx.send(command).await {
                    // the host ended with its room (idle): the next one takes the game
                    // over once it finished, and applies first what it left
                    if let Some(ended) = hosts.remove(&game) {
                        let next = host::spawn(
                            game,
                            hosting.clone(),
                            CancellationToken::new(),
                            Some(ended.task),
                        );
                        // a new host's queue is empty: the command fits
                        if next.tx.try_send(command).is_err() {
                            tracing::warn!(%game, "a command for a restarted host dropped");
                        }
                        hosts.insert(game, next);
                    }
                }
                let _ = taken.send(());
            }
            Some(game) = fenced.recv() => {
                if let Some(host) = hosts.remove(&game) {
                    host.stop.cancel();
                    let _ = host.task.await;
                }
            }
            _ = check.tick() => {
                admission::forget_ended(&mut hosts, &hosting).await;
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
