//! The application: builds the store, bus and game registry from [`Settings`], binds the
//! listener, serves the routes, and shuts everything down in order.

use std::net::TcpListener;
use std::sync::Arc;
use std::time::Duration;

use actix_web::{dev::Server, web, App, HttpResponse, HttpServer};
use anyhow::Context;
use protocol::Board;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use crate::bus::{inprocess::InProcessBus, pulsar::PulsarBus, Bus, Fanout};
use crate::cluster::{self, fencing::Fence, host::Hosting, Cluster};
use crate::config::Settings;
use crate::metrics::Metrics;
use crate::registry::{Limits, Registry};
use crate::room::RoomDeps;
use crate::store::{
    cassandra::CassandraStore, embedded::EmbeddedStore, writer::StoreWriter, Store,
};
use crate::ws::guard::Guard;
use crate::{assets, lobby, ws};

/// What every request handler shares.
pub struct Shared {
    /// The games: where each runs, loading and unloading them.
    pub registry: Arc<Registry>,
    /// This instance's world fan-out.
    pub fanout: Fanout,
    /// Counters for `/metrics`.
    pub metrics: Arc<Metrics>,
    /// Fires when the server shuts down; sockets then close with a reason.
    pub shutdown: CancellationToken,
    /// What clients may do: origins, socket caps, frame rates.
    pub guard: Guard,
}

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
    /// The bus, closed last.
    bus: Arc<dyn Bus>,
    /// This instance's part of the cluster (`--cluster`), closed after the bus.
    cluster: Option<Arc<Cluster>>,
}

impl Application {
    pub async fn build(settings: Settings) -> anyhow::Result<Self> {
        let metrics = Arc::new(Metrics::default());
        let store: Arc<dyn Store> = if !settings.cassandra.nodes.is_empty() {
            Arc::new(CassandraStore::connect(&settings.cassandra).await?)
        } else {
            Arc::new(EmbeddedStore::open(&settings.data_dir).with_context(|| {
                format!("cannot open the store in {}", settings.data_dir.display())
            })?)
        };
        let fanout = Fanout::new(
            settings.world_queue,
            std::time::Duration::from_millis(settings.world_batch_ms),
        );
        // the fence and the census are shared by the cluster and the bus; they only
        // stamp, filter and count when several instances share games (docs/cluster.md)
        let (fence, fenced) = Fence::new();
        let shared = cluster::Shared {
            fence,
            census: Arc::default(),
        };
        let clustered = settings.cluster;
        if clustered && (settings.pulsar.url.is_none() || settings.cassandra.nodes.is_empty()) {
            anyhow::bail!("--cluster needs --pulsar-url and --cassandra-nodes");
        }
        let bus: Arc<dyn Bus> = if settings.pulsar.url.is_some() {
            let shared = clustered.then(|| shared.clone());
            Arc::new(
                PulsarBus::connect_shared(&settings.pulsar, fanout.clone(), shared)
                    .await
                    .context("cannot start the pulsar bus")?,
            )
        } else {
            Arc::new(InProcessBus::new(fanout.clone()))
        };
        let (writer, writer_task) = StoreWriter::spawn(store.clone(), metrics.clone());
        let shutdown = CancellationToken::new();
        let deps = RoomDeps {
            bus: bus.clone(),
            writer,
            metrics: metrics.clone(),
            idle: Duration::from_secs(settings.game_idle_secs),
            max_players: settings.guard.max_players_per_game,
            prune_after: Duration::from_secs(settings.prune_players_after_secs),
        };
        // in a cluster, the cluster decides where each game runs, and the registry hands
        // out its gateways
        let cluster = if clustered {
            let client = crate::bus::pulsar::client(&settings.pulsar).await?;
            let consumer_client = crate::bus::pulsar::client(&settings.pulsar).await?;
            let instance = protocol::Uuid::new_v4().to_string();
            let world_topic = settings.pulsar.topic.clone();
            let hosting = |link| Hosting {
                instance: instance.clone(),
                store: store.clone(),
                deps: deps.clone(),
                link,
                board: Board::STANDARD,
                fence: shared.fence.clone(),
                client: client.clone(),
                world_topic: world_topic.clone(),
            };
            let cluster = Cluster::start(
                &client,
                &consumer_client,
                &world_topic,
                instance.clone(),
                fenced,
                shared.census.clone(),
                hosting,
            )
            .await
            .context("cannot join the cluster")?;
            Some(Arc::new(cluster))
        } else {
            None
        };
        let limits = Limits {
            max_games: settings.max_games,
            creations_per_minute: settings.max_game_creations_per_minute,
        };
        let registry = Registry::open(
            store,
            Board::STANDARD,
            deps,
            limits,
            settings.game_id,
            cluster.clone(),
            shutdown.clone(),
        )
        .await
        .context("cannot read the games from the store")?;
        let registry = Arc::new(registry);
        tracing::info!(default_game = %registry.default_game(), "games ready");

        let listener = TcpListener::bind(&settings.bind)
            .with_context(|| format!("cannot listen on {}", settings.bind))?;
        let port = listener.local_addr()?.port();
        let guard = Guard::new(&settings.guard);
        tokio::spawn(crate::memory::give_back_after_closes(
            guard.clone(),
            metrics.clone(),
            shutdown.clone(),
        ));
        let shared = web::Data::new(Shared {
            registry: registry.clone(),
            fanout,
            metrics,
            shutdown: shutdown.clone(),
            guard,
        });
        let metrics_server = match &settings.metrics_bind {
            Some(address) => Some(metrics_server(address, shared.clone())?),
            None => None,
        };
        let public_metrics = metrics_server.is_none();
        let server = HttpServer::new(move || {
            App::new()
                .app_data(shared.clone())
                .configure(routes)
                .configure(|cfg| {
                    if public_metrics {
                        cfg.route("/metrics", web::get().to(serve_metrics));
                    }
                })
        })
        // frames are small and must leave at once: without this, Nagle's algorithm
        // holds a frame back while an earlier one is unacknowledged, and the client's
        // delayed ACK turns that into stalls of about 40 ms
        .tcp_nodelay(true)
        .listen(listener)?
        // signals are ours: sockets must get close frames before the server stops
        .disable_signals()
        .shutdown_timeout(5)
        .run();
        tracing::info!(address = %settings.bind, port, "listening");
        Ok(Application {
            port,
            server,
            metrics_server,
            shutdown,
            registry,
            writer_task,
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
        self.bus.close().await;
        if let Some(cluster) = &self.cluster {
            cluster.close().await;
        }
        tracing::info!("stopped");
        Ok(())
    }
}

fn routes(cfg: &mut web::ServiceConfig) {
    cfg.route("/ws/player/{player_id}", web::get().to(ws::player_route))
        .route("/ws/world/{player_id}", web::get().to(ws::world_route))
        .route(
            "/ws/game/{game_id}/player/{player_id}",
            web::get().to(ws::game_player_route),
        )
        .route(
            "/ws/game/{game_id}/world/{player_id}",
            web::get().to(ws::game_world_route),
        )
        .configure(lobby::configure)
        .route("/healthz", web::get().to(healthz))
        .configure(assets::configure);
}

/// A server of `/metrics` alone on `address`, and the port it bound.
fn metrics_server(address: &str, shared: web::Data<Shared>) -> anyhow::Result<(Server, u16)> {
    let listener = TcpListener::bind(address)
        .with_context(|| format!("cannot listen on {address} for /metrics"))?;
    let bound = listener.local_addr()?;
    let server = HttpServer::new(move || {
        App::new()
            .app_data(shared.clone())
            .route("/metrics", web::get().to(serve_metrics))
    })
    .workers(1)
    .listen(listener)?
    .disable_signals()
    .shutdown_timeout(1)
    .run();
    // not `port=`: operators and tests read the main port from the "listening" line
    tracing::info!(metrics_address = %bound, "serving /metrics");
    Ok((server, bound.port()))
}

async fn healthz(shared: web::Data<Shared>) -> HttpResponse {
    HttpResponse::Ok().json(serde_json::json!({
        "status": "ok",
        "bus_ok": shared.fanout.bus_ok(),
        "games_running": shared.registry.running(),
    }))
}

async fn serve_metrics(shared: web::Data<Shared>) -> HttpResponse {
    HttpResponse::Ok()
        .content_type(prometheus_client::encoding::prometheus_text::CONTENT_TYPE)
        .body(shared.metrics.render())
}
