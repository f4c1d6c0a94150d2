//! The application: picks the store, the bus and placement from [`Settings`], builds
//! the game core and the edge around them, binds the listener, serves, and shuts
//! everything down in order. The one place that knows every layer.

use std::net::TcpListener;
use std::sync::Arc;
use std::time::Duration;

use actix_web::dev::Server;
use actix_web::web;
use anyhow::Context;
use bus_pulsar::PulsarBus;
use cluster::census::Census;
use cluster::fencing::Fence;
use cluster::hosting::Hosting;
use cluster::placement::ClusterPlacement;
use cluster::Cluster;
use edge::guard::metrics::GuardMetrics;
use edge::guard::Guard;
use edge::metrics::{self, SocketMetrics};
use edge::state::AppState;
use game_core::bus::{inprocess::InProcessBus, Bus, Fanout, Keep};
use game_core::history::metrics::HistoryMetrics;
use game_core::history::writer::{self as history_writer, HistoryWriter};
use game_core::history::Keeping;
use game_core::hook::{Open, WorldHook};
use game_core::placement::{Local, Placement};
use game_core::registry::{Limits, Registry};
use game_core::room::metrics::RoomMetrics;
use game_core::room::RoomDeps;
use game_core::spectators::SpectatorLimits;
use game_core::store::embedded::EmbeddedStore;
use game_core::store::writer::{metrics::StoreMetrics, StoreWriter};
use game_core::store::Store;
use protocol::Board;
use store_cassandra::CassandraStore;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use crate::config::Settings;

/// A built, listening server, not yet running.
pub struct Application {
    /// The port actually bound (useful with port 0).
    port: u16,
    /// The HTTP server, run by `run_until_stopped`.
    server: Server,
    /// The server of `/metrics` alone, and its port, with `--metrics-bind`.
    metrics_server: Option<(Server, u16)>,
    /// Cancels everything: sockets, rooms, then the writer drains.
    shutdown: CancellationToken,
    /// The games; closed after `shutdown`, once every room stopped.
    registry: Arc<Registry>,
    /// The store writer; ends once the rooms let go of it and its rows are written.
    writer_task: JoinHandle<()>,
    /// The history writer (unless `--history-secs 0`); ends as the store writer does.
    history_task: Option<JoinHandle<()>>,
    /// The bus, closed last.
    bus: Arc<dyn Bus>,
    /// This instance's part of the cluster (`--cluster`), closed after the bus.
    cluster: Option<Arc<Cluster>>,
}

/// What the cluster needs of the world bus: the concrete Pulsar bus (its notices), and
/// the hook it was connected with.
struct ClusterStream {
    /// The bus, for take-over markers and the census.
    world: Arc<PulsarBus>,
    /// The fence the bus stamps and filters with.
    fence: Arc<Fence>,
    /// Newer owners the fence learnt of: their games' hosts here stop.
    fenced: tokio::sync::mpsc::UnboundedReceiver<protocol::Uuid>,
    /// The owners' census, for the lobby.
    census: Arc<Census>,
}

impl Application {
    pub async fn build(settings: Settings) -> anyhow::Result<Self> {
        // one id for this instance, everywhere it is named (its bus subscription, its
        // cluster consumer, the origin of its frames and commands)
        let instance = protocol::Uuid::new_v4().to_string();
        let mut figures = metrics::Builder::default();
        let room_metrics = RoomMetrics::register(figures.ours());
        let store_metrics = StoreMetrics::register(figures.ours());
        let history_metrics = HistoryMetrics::register(figures.ours());
        let sockets = SocketMetrics::register(figures.ours(), room_metrics.queue_drops());
        let guard = Guard::new(&settings.guard, GuardMetrics::register(figures.ours()));
        let metrics = Arc::new(figures.build());

        let store: Arc<dyn Store> = if !settings.cassandra.nodes.is_empty() {
            Arc::new(CassandraStore::connect(&settings.cassandra).await?)
        } else {
            Arc::new(EmbeddedStore::open(&settings.data_dir).with_context(|| {
                format!("cannot open the store in {}", settings.data_dir.display())
            })?)
        };
        let fanout = Fanout::new(
            settings.world_queue,
            Duration::from_millis(settings.world_batch_ms),
        )
        .keeping(Keep {
            updates: settings.resume_updates,
            age: Duration::from_secs(settings.resume_secs),
        });
        let clustered = settings.cluster;
        if clustered && (settings.pulsar.url.is_none() || settings.cassandra.nodes.is_empty()) {
            anyhow::bail!("--cluster needs --pulsar-url and --cassandra-nodes");
        }
        // in a cluster the Pulsar bus stamps and filters frames with the fence, and
        // hands the census to the lobby (docs/cluster.md); alone it stamps nothing
        let fencing = clustered.then(|| {
            let (fence, fenced) = Fence::new();
            (fence, fenced, Arc::new(Census::default()))
        });
        let hook: Arc<dyn WorldHook> = match &fencing {
            Some((fence, _, census)) => Arc::new(cluster::stream::Stream {
                fence: fence.clone(),
                census: census.clone(),
            }),
            None => Arc::new(Open),
        };
        let mut stream = None;
        let bus: Arc<dyn Bus> = if settings.pulsar.url.is_some() {
            let world = Arc::new(
                PulsarBus::connect(&settings.pulsar, fanout.clone(), hook, &instance)
                    .await
                    .context("cannot start the pulsar bus")?,
            );
            // --cluster was checked above to come with --pulsar-url
            stream = fencing.map(|(fence, fenced, census)| ClusterStream {
                world: world.clone(),
                fence,
                fenced,
                census,
            });
            world
        } else {
            Arc::new(InProcessBus::new(fanout.clone()))
        };
        let (writer, writer_task) = StoreWriter::spawn(store.clone(), store_metrics);
        let keeping = Keeping {
            retention: Duration::from_secs(settings.history_secs),
            snapshot_every: Duration::from_secs(settings.history_snapshot_secs),
        };
        let (history, history_task) = if keeping.retention.is_zero() {
            (None, None)
        } else {
            let (history, task) = HistoryWriter::spawn(
                store.clone(),
                keeping,
                history_writer::QUEUE,
                history_metrics.clone(),
            );
            (Some(history), Some(task))
        };
        let shutdown = CancellationToken::new();
        let idle = Duration::from_secs(settings.game_idle_secs);
        let deps = RoomDeps {
            bus: bus.clone(),
            writer,
            metrics: room_metrics,
            idle,
            max_players: settings.guard.max_players_per_game,
            prune_after: Duration::from_secs(settings.prune_players_after_secs),
            clock: Arc::new(game_core::clock::System),
            history,
        };
        // in a cluster, every game runs at its owner and the sockets here get its
        // gateway; alone, every game runs here
        let (placement, cluster): (Arc<dyn Placement>, _) = match stream {
            Some(stream) => {
                let cluster = Arc::new(
                    join_cluster(&settings, &instance, store.clone(), deps, stream).await?,
                );
                (
                    Arc::new(ClusterPlacement::new(cluster.clone(), idle)),
                    Some(cluster),
                )
            }
            None => (
                Arc::new(Local::new(
                    store.clone(),
                    Board::STANDARD,
                    deps,
                    shutdown.clone(),
                )),
                None,
            ),
        };
        let limits = Limits {
            max_games: settings.max_games,
            creations_per_minute: settings.max_game_creations_per_minute,
            spectators: SpectatorLimits {
                per_game: settings.max_spectators_per_game,
                total: settings.max_spectators,
            },
        };
        let registry = Registry::open(store, placement, limits, settings.game_id, shutdown.clone())
            .await
            .context("cannot read the games from the store")?;
        let registry = Arc::new(registry);
        tracing::info!(default_game = %registry.default_game(), "games ready");
        if settings.forget_games_after_secs > 0 {
            tokio::spawn(forget_idle_games(
                registry.clone(),
                Duration::from_secs(settings.forget_games_after_secs),
                history_metrics,
                shutdown.clone(),
            ));
        }

        let listener = TcpListener::bind(&settings.bind)
            .with_context(|| format!("cannot listen on {}", settings.bind))?;
        let port = listener.local_addr()?.port();
        tokio::spawn(edge::memory::give_back_after_closes(
            guard.clone(),
            sockets.clone(),
            shutdown.clone(),
        ));
        let state = web::Data::new(AppState {
            registry: registry.clone(),
            fanout,
            metrics,
            sockets,
            shutdown: shutdown.clone(),
            guard,
        });
        let metrics_server = match &settings.metrics_bind {
            Some(address) => {
                let listener = TcpListener::bind(address)
                    .with_context(|| format!("cannot listen on {address} for /metrics"))?;
                let bound = listener.local_addr()?;
                let server = edge::server::serve_metrics_alone(listener, state.clone())?;
                // not `port=`: operators and tests read the main port from the "listening" line
                tracing::info!(metrics_address = %bound, "serving /metrics");
                Some((server, bound.port()))
            }
            None => None,
        };
        let server = edge::server::serve(listener, state, metrics_server.is_none())?;
        tracing::info!(address = %settings.bind, port, "listening");
        Ok(Application {
            port,
            server,
            metrics_server,
            shutdown,
            registry,
            writer_task,
            history_task,
            bus,
            cluster,
        })
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    /// The port of `/metrics` when it has an address of its own (`--metrics-bind`).
    pub fn metrics_port(&self) -> Option<u16> {
        self.metrics_server.as_ref().map(|(_, port)| *port)
    }

    /// A token that stops the application when cancelled.
    pub fn shutdown_token(&self) -> CancellationToken {
        self.shutdown.clone()
    }

    /// Serves until the shutdown token fires, then closes sockets with a reason, stops
    /// the server, stops the rooms, writes out the store and closes the bus.
    pub async fn run_until_stopped(self) -> anyhow::Result<()> {
        let handle = self.server.handle();
        let mut server = tokio::spawn(self.server);
        let metrics_server = self.metrics_server.map(|(server, _)| {
            let handle = server.handle();
            (handle, tokio::spawn(server))
        });
        tokio::select! {
            _ = self.shutdown.cancelled() => {}
            result = &mut server => {
                self.shutdown.cancel();
                result.context("server task failed")?.context("server failed")?;
            }
        }
        tracing::info!("shutting down");
        if let Some(cluster) = &self.cluster {
            // first of all, take no more commands (the broker keeps them for the next
            // owner) and hand the hosted games over: rooms stop, their rows are written,
            // their last frames reach the topic; then the partitions go to the others
            // at once, before the sockets here are closed (which takes up to a second)
            cluster.stop_hosting().await;
            self.bus.flush().await;
            cluster.hand_over().await;
        }
        handle.stop(true).await;
        let _ = server.await;
        if let Some((handle, server)) = metrics_server {
            handle.stop(true).await;
            let _ = server.await;
        }
        self.registry.close().await;
        drop(self.registry);
        self.writer_task.await.context("store writer failed")?;
        if let Some(task) = self.history_task {
            task.await.context("history writer failed")?;
        }
        self.bus.close().await;
        if let Some(cluster) = &self.cluster {
            cluster.close().await;
        }
        tracing::info!("stopped");
        Ok(())
    }
}

/// Forgets the games nobody played for `after`, now and then, until shutdown: every
/// instance of a cluster sweeps, and the store's compare-and-set lets one only forget
/// each game (`game_core::history::forget`).
async fn forget_idle_games(
    registry: Arc<Registry>,
    after: Duration,
    metrics: HistoryMetrics,
    shutdown: CancellationToken,
) {
    // a few times per idle time, at most once a second, at least once a minute
    let every = (after / 4).clamp(Duration::from_secs(1), Duration::from_secs(60));
    let mut tick = tokio::time::interval(every);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = shutdown.cancelled() => return,
            _ = tick.tick() => {}
        }
        if let Err(e) = registry.forget_idle_games(after, &metrics).await {
            tracing::warn!(error = %e, "cannot forget the games nobody plays now");
        }
    }
}

/// Joins the cluster: its owners host games with `deps`, loading them from `store`.
async fn join_cluster(
    settings: &Settings,
    instance: &str,
    store: Arc<dyn Store>,
    deps: RoomDeps,
    stream: ClusterStream,
) -> anyhow::Result<Cluster> {
    // a take-over replays the world topic from the game's checkpoint: said in the log
    // whether the topic keeps messages long enough (in the background: the admin API
    // may be slow or refuse, and the instance starts all the same)
    let options = settings.pulsar.clone();
    tokio::spawn(async move { bus_pulsar::retention::check(&options).await });
    let client = bus_pulsar::client(&settings.pulsar).await?;
    let consumer_client = bus_pulsar::client(&settings.pulsar).await?;
    let world_topic = settings.pulsar.topic.clone();
    let ClusterStream {
        world,
        fence,
        fenced,
        census,
    } = stream;
    let hosting = |link| Hosting {
        instance: instance.to_string(),
        store,
        deps,
        link,
        board: Board::STANDARD,
        fence,
        world,
        client: client.clone(),
        world_topic: world_topic.clone(),
        max_owned_games: settings.max_owned_games,
    };
    Cluster::start(
        &client,
        &consumer_client,
        &world_topic,
        instance.to_string(),
        fenced,
        census,
        hosting,
    )
    .await
    .context("cannot join the cluster")
}
