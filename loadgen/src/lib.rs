//! Drapetisca's load generator: bot players that speak only the wire protocol, driving
//! a local server and measuring what its players would feel.
//!
//! Each bot opens its one socket (`/ws/one/{id}`, as Drapetisca's page plays), or with
//! `--sockets two` the reference's two (`/ws/world/{id}` first, then `/ws/player/{id}`),
//! enters,
//! waits until every bot has entered, then makes random valid one-step moves at a fixed
//! rate. Every move is matched, by player id and generation, to its arrival at the mover
//! and at every other bot; the report gives percentiles of both latencies, deliveries
//! against expectations, rates, and the server's CPU and memory from `/proc`.
//!
//! # Layout
//!
//! - [`config`]: the command line, also built by tests.
//! - [`run`](run()): the coordinator: spawn or find the server, ramp bots up, start,
//!   stop, add up.
//! - [`bot`]: one bot's task: its sockets, brief, moves and receipts.
//! - [`sockets`]: a bot's one socket or two, and which stream a message came on.
//! - [`field`]: a bot's picture of the board, for choosing valid moves.
//! - [`frame`]: the borrowed reading of world frames (the hot path).
//! - [`ledger`]: the shared, lock-free record of every move and its deliveries.
//! - [`recorder`]: latency histograms fed through per-bot buffers.
//! - [`roster`]: the bots' ids and games.
//! - [`lobby`]: creating the games the bots spread over.
//! - [`server`]: spawning the server, timing its start, sampling `/proc`.
//! - [`hostile`]: hostile clients beside the bots (`--hostile`).
//! - [`spectator`]: spectators beside the bots (`--spectators`).
//! - [`report`]: the figures, for people and as a JSON line.

pub mod bot;
pub mod config;
pub mod field;
pub mod frame;
pub mod hostile;
pub mod ledger;
pub mod lobby;
pub mod recorder;
/// What a run measured, shared with `cargo xtask bench`.
pub use loadgen_report as report;
pub mod roster;
pub mod server;
pub mod sockets;
pub mod spectator;

use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use tokio::sync::{mpsc, watch};
use tokio::time::{sleep_until, timeout_at};

pub use config::Config;
pub use report::Report;

use bot::{BotStats, Schedule, Shared};
use ledger::Ledger;
use recorder::Latencies;
use report::{Deliveries, ServerFigures, SpectatorFigures};
use roster::Roster;
use server::{ProcSample, Spawned, SystemSample};
use spectator::SpectatorStats;

/// How long after the last connect the coordinator waits for briefs to finish.
const BRIEF_TIMEOUT: Duration = Duration::from_secs(30);
/// A pause between the last brief and the start, so entering traffic settles.
const SETTLE: Duration = Duration::from_millis(500);

/// Runs one load run as `config` says and returns its figures.
pub async fn run(config: Config) -> Result<Report> {
    config.validate()?;
    let spawned = match &config.spawn {
        Some(binary) => Some(
            Spawned::start(
                binary,
                &config.server_args,
                config.server_log.as_deref(),
                &config.probe_path,
            )
            .await?,
        ),
        None => None,
    };
    let addr = spawned.as_ref().map_or(config.addr, |s| s.addr);
    let pid = spawned
        .as_ref()
        .and_then(Spawned::pid)
        .or(config.server_pid);
    let startup_ms = spawned.as_ref().map(|s| s.startup.as_secs_f64() * 1000.0);
    let result = if config.startup_only {
        Ok(Report {
            label: config.label.clone(),
            server: pid.map(|pid| ServerFigures {
                pid,
                startup_ms,
                ..ServerFigures::default()
            }),
            ..Report::default()
        })
    } else {
        drive(&config, addr, pid, startup_ms).await
    };
    if let Some(spawned) = spawned {
        spawned.stop().await?;
    }
    result
}

/// The bots' part of a run, against a server already listening on `addr`.
async fn drive(
    config: &Config,
    addr: std::net::SocketAddr,
    pid: Option<u32>,
    startup_ms: Option<f64>,
) -> Result<Report> {
    let sample_server = || pid.map(|pid| ProcSample::take(Some(pid))).transpose();
    let before = sample_server()?;
    let games = lobby::games_for(addr, config.games, &config.label).await?;
    let addrs = std::iter::once(addr)
        .chain(config.also_addrs.iter().copied())
        .collect();
    let shared = Arc::new(Shared {
        addrs,
        rate: config.rate,
        chat_every: config.chat_every,
        drop_every: config.drop_every,
        drop_for: Duration::from_millis(config.drop_for_ms),
        resume: !config.drop_without_resume,
        batched: config.batched,
        sockets: config.sockets,
        late_us: (config.late_ms * 1000.0) as u64,
        roster: Roster::spread(config.players, games),
        ledger: Ledger::new(config.players, config.max_moves()),
        clock: Instant::now(),
        to_self: Latencies::new(),
        to_others: Latencies::new(),
    });
    let (start_tx, start_rx) = watch::channel(None);
    let (ready_tx, mut ready_rx) = mpsc::channel((config.players + config.spectators).max(1));
    let ramp_start = Instant::now();
    let bots: Vec<_> = (0..config.players)
        .map(|i| {
            tokio::spawn(bot::run(
                Arc::clone(&shared),
                i,
                ramp_start + config.connect_offset(i),
                start_rx.clone(),
                ready_tx.clone(),
            ))
        })
        .collect();
    let spectator_latencies = Latencies::new();
    let spectators: Vec<_> = (0..config.spectators)
        .map(|i| {
            tokio::spawn(spectator::run(
                Arc::clone(&shared),
                spectator_latencies.recorder(),
                i,
                ramp_start + config.spectator_offset(i),
                start_rx.clone(),
                ready_tx.clone(),
            ))
        })
        .collect();
    drop(ready_tx);

    // bots and spectators alike say once whether they got through their brief
    let everyone = config.players + config.spectators;
    let brief_deadline = ramp_start + config.connect_offset(everyone) + BRIEF_TIMEOUT;
    let (mut entered, mut failed) = (0, 0);
    while entered + failed < everyone {
        match timeout_at(brief_deadline.into(), ready_rx.recv()).await {
            Ok(Some(true)) => entered += 1,
            Ok(Some(false)) => failed += 1,
            Ok(None) | Err(_) => break,
        }
    }
    tokio::time::sleep(SETTLE).await;
    let connected = sample_server()?;

    let start = Instant::now() + Duration::from_millis(100);
    let end = start + Duration::from_secs_f64(config.duration);
    let schedule = Schedule {
        start,
        end,
        stop: end + Duration::from_secs_f64(config.grace),
    };
    start_tx.send_replace(Some(schedule));
    sleep_until(start.into()).await;
    let hostile = config.hostile.then(|| {
        // the attackers play the default game: thieves go after the bots there
        let honest = (0..config.players)
            .filter(|&i| shared.roster.game(i).is_none())
            .map(|i| shared.roster.id(i))
            .collect();
        tokio::spawn(hostile::run(addr, honest, pid, config.flood, end))
    });
    let (server_from, loadgen_from) = (sample_server()?, ProcSample::take(None)?);
    let machine_from = SystemSample::take()?;
    sleep_until(end.into()).await;
    let (server_to, loadgen_to) = (sample_server()?, ProcSample::take(None)?);
    let machine_cpu_percent = machine_from.cpu_percent_until(&SystemSample::take()?);

    let hostile = match hostile {
        Some(task) => Some(task.await.context("the hostile clients panicked")??),
        None => None,
    };
    let mut stats = Vec::with_capacity(bots.len());
    for bot in bots {
        stats.push(bot.await.context("a bot panicked")?);
    }
    let mut watched = Vec::with_capacity(spectators.len());
    for spectator in spectators {
        watched.push(spectator.await.context("a spectator panicked")?);
    }
    drop(start_tx);

    let server = match (pid, before, connected, server_from, server_to) {
        (Some(pid), Some(before), Some(connected), Some(from), Some(to)) => Some(ServerFigures {
            pid,
            startup_ms,
            cpu_percent: from.cpu_percent_until(&to),
            rss_before_kb: before.rss_kb,
            rss_connected_kb: connected.rss_kb,
            rss_end_kb: to.rss_kb,
            hwm_kb: to.hwm_kb,
            // per connection: with --spectators, `entered` counts the briefed
            // spectators too, each a socket the server holds
            kb_per_player: connected.rss_kb.saturating_sub(before.rss_kb) as f64
                / entered.max(1) as f64,
        }),
        _ => None,
    };
    let mut report = add_up(config, &shared, &stats, server);
    report.loadgen_cpu_percent = loadgen_from.cpu_percent_until(&loadgen_to);
    report.machine_cpu_percent = machine_cpu_percent;
    report.hostile = hostile;
    report.spectators = (config.spectators > 0)
        .then(|| add_up_spectators(&shared, &stats, &watched, &spectator_latencies));
    Ok(report)
}

/// The spectators' figures: each is expected to receive every move of its game's bots
/// that was not rejected privately, as a bot of that game receives the others'.
fn add_up_spectators(
    shared: &Shared,
    bots: &[BotStats],
    spectators: &[SpectatorStats],
    latencies: &Latencies,
) -> SpectatorFigures {
    let roster = &shared.roster;
    let expected_of_group = |group: usize| {
        let of_group = (0..bots.len()).filter(move |&i| roster.group(i) == group);
        shared.ledger.tally_of(of_group).expected_per_receiver()
    };
    let briefed: Vec<&SpectatorStats> = spectators.iter().filter(|s| s.briefed).collect();
    let expected = briefed
        .iter()
        .map(|s| expected_of_group(s.group))
        .sum::<u64>();
    let received = briefed.iter().map(|s| s.received).sum::<u64>();
    SpectatorFigures {
        spectators: spectators.len(),
        briefed: briefed.len(),
        failed: spectators
            .iter()
            .filter(|s| !s.briefed || s.error.is_some())
            .count(),
        first_error: spectators.iter().find_map(|s| s.error.clone()),
        messages: spectators.iter().map(|s| s.messages).sum(),
        duplicates: spectators.iter().map(|s| s.duplicates).sum(),
        deliveries: Deliveries {
            expected,
            received,
            lost: expected.saturating_sub(received),
            late: briefed.iter().map(|s| s.late).sum(),
            latency: latencies.summary(),
        },
    }
}

/// The report of a finished run, from the ledger, the histograms and every bot's counts.
fn add_up(
    config: &Config,
    shared: &Shared,
    stats: &[BotStats],
    server: Option<ServerFigures>,
) -> Report {
    let tally = shared.ledger.tally();
    let sum = |f: fn(&BotStats) -> u64| stats.iter().map(f).sum::<u64>();
    let entered = stats.iter().filter(|s| s.entered).count();
    let failed = stats
        .iter()
        .filter(|s| !s.entered || s.error.is_some())
        .count();
    let first_error = stats.iter().find_map(|s| s.error.clone());
    let expected_self = tally.expected_per_receiver();
    // a move reaches the other bots of its own game only
    let roster = &shared.roster;
    let expected_others = (0..roster.groups())
        .map(|group| {
            let bots = || (0..stats.len()).filter(move |&i| roster.group(i) == group);
            let entered = bots().filter(|&i| stats[i].entered).count() as u64;
            shared.ledger.tally_of(bots()).expected_per_receiver() * entered.saturating_sub(1)
        })
        .sum::<u64>();
    let duration = config.duration.max(1e-9);
    Report {
        label: config.label.clone(),
        players: config.players,
        entered,
        failed,
        first_error,
        games: config.games,
        rate: config.rate,
        duration_s: config.duration,
        moves_sent: tally.sent,
        moves_per_s: tally.sent as f64 / duration,
        moves_rejected: tally.rejected,
        moves_published: tally.published,
        moves_unanswered: tally.unanswered,
        frames_in_per_s: sum(|s| s.frames_in_window) as f64 / duration,
        frames_in: sum(|s| s.frames_in),
        world_updates_in: sum(|s| s.updates_in),
        frames_out: sum(|s| s.frames_out),
        bytes_in_per_s: {
            // bytes are counted over the whole run; scale by the window's share of frames
            let frames = sum(|s| s.frames_in).max(1) as f64;
            sum(|s| s.bytes_in) as f64 * sum(|s| s.frames_in_window) as f64 / frames / duration
        },
        to_self: Deliveries {
            expected: expected_self,
            received: tally.self_received,
            lost: expected_self.saturating_sub(tally.self_received),
            late: sum(|s| s.late_self),
            latency: shared.to_self.summary(),
        },
        to_others: Deliveries {
            expected: expected_others,
            received: sum(|s| s.others_received),
            lost: expected_others.saturating_sub(sum(|s| s.others_received)),
            late: sum(|s| s.late_others),
            latency: shared.to_others.summary(),
        },
        duplicates: sum(|s| s.duplicates),
        chats_sent: sum(|s| s.chats_sent),
        chats_received: sum(|s| s.chats_received),
        server_lines: sum(|s| s.server_lines),
        server_errors: sum(|s| s.server_errors),
        unparsed: sum(|s| s.unparsed),
        drops: sum(|s| s.drops),
        resumed: sum(|s| s.resumed),
        server,
        ..Report::default()
    }
}
