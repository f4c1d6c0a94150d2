//! Spectators beside the bots (`--spectators N`, docs/protocol.md "Spectators"): each
//! opens a spectator socket on its game (spectator `i` watches the game of bot group
//! `i mod games`, on the `i`-th server, round-robin), reads its brief, and then counts
//! every bot move it receives, with its latency from the mover's send, exactly as a bot
//! counts the others' moves; it sends nothing. The report adds them up apart from the
//! players (`spectators`), so a run shows what watching costs the players and whether
//! any spectator lost an update.

use std::sync::Arc;
use std::time::Instant;

use anyhow::{bail, Result};
use futures_util::StreamExt;
use tokio::sync::watch;
use tokio::time::sleep_until;
use tokio_tungstenite::tungstenite::Message;

use crate::bot::{Ready, Schedule, Shared};
use crate::frame::WorldFrame;
use crate::recorder::Recorder;
use crate::sockets::{close_politely, connect};

/// The receiver index spectators record deliveries under in the ledger: no bot's, so a
/// delivery never counts as the mover's own.
const NOT_A_BOT: usize = usize::MAX;

/// What one spectator counted.
#[derive(Clone, Debug, Default)]
pub struct SpectatorStats {
    /// The game's group (bots `i` with `i mod games` equal to it).
    pub group: usize,
    /// It got its brief's board before the start.
    pub briefed: bool,
    /// Why it stopped early, if it did.
    pub error: Option<String>,
    /// Bot moves received (each counted once).
    pub received: u64,
    /// Of those, slower than the late threshold.
    pub late: u64,
    /// Bot moves that came again or out of order (not counted as received).
    pub duplicates: u64,
    /// Messages received.
    pub messages: u64,
}

/// Runs spectator `index` from its connect to the end of the grace period.
pub async fn run(
    shared: Arc<Shared>,
    latencies: Recorder,
    index: usize,
    connect_at: Instant,
    start: watch::Receiver<Option<Schedule>>,
    ready: Ready,
) -> SpectatorStats {
    sleep_until(connect_at.into()).await;
    let mut spectator = Spectator {
        last_seen: vec![0; shared.roster.len()],
        stats: SpectatorStats {
            group: index % shared.roster.groups(),
            ..SpectatorStats::default()
        },
        latencies,
        shared,
    };
    if let Err(e) = spectator.watch(index, start, &ready).await {
        if !spectator.stats.briefed {
            ready.send(false).await.ok();
        }
        spectator.stats.error = Some(format!("{e:#}"));
    }
    spectator.latencies.flush();
    spectator.stats
}

struct Spectator {
    shared: Arc<Shared>,
    /// The highest generation received so far from each bot.
    last_seen: Vec<i32>,
    /// Buffered latencies from a bot's send to this spectator's receipt.
    latencies: Recorder,
    stats: SpectatorStats,
}

impl Spectator {
    async fn watch(
        &mut self,
        index: usize,
        mut start: watch::Receiver<Option<Schedule>>,
        ready: &Ready,
    ) -> Result<()> {
        let addr = self.shared.addrs[index % self.shared.addrs.len()];
        // the game of the spectator's group: the roster's game of a bot of that group
        let route = match self.shared.roster.game(self.stats.group) {
            Some(game) => protocol::game_watch_route(game),
            None => protocol::WATCH_ROUTE.to_string(),
        };
        let mut socket = connect(addr, &route).await?;
        let mut schedule: Option<Schedule> = None;
        loop {
            let stop = schedule.map_or_else(
                || Instant::now() + std::time::Duration::from_secs(86_400),
                |s| s.stop,
            );
            tokio::select! {
                message = socket.next() => match message {
                    Some(Ok(Message::Text(text))) => {
                        self.stats.messages += 1;
                        if text.starts_with('[') {
                            self.on_batch(&text);
                        } else if !self.stats.briefed && text.starts_with(r#"{"messageType":"geometry""#) {
                            // the brief's first frame: the board is coming
                            self.stats.briefed = true;
                            ready.send(true).await.ok();
                        }
                    }
                    Some(Ok(Message::Close(_))) | None => bail!("the server closed the spectator's socket"),
                    Some(Ok(_)) => {}
                    Some(Err(e)) => return Err(e.into()),
                },
                changed = start.changed(), if schedule.is_none() => {
                    if changed.is_err() {
                        bail!("the run was abandoned");
                    }
                    if let Some(s) = *start.borrow() {
                        if !self.stats.briefed {
                            bail!("not briefed when the run started");
                        }
                        schedule = Some(s);
                    }
                },
                () = sleep_until(stop.into()) => break,
            }
        }
        close_politely(socket).await;
        Ok(())
    }

    /// A world batch: every bot move in it, counted once.
    fn on_batch(&mut self, text: &str) {
        let now_us = self.shared.us_at(Instant::now());
        let Ok(frames) = WorldFrame::parse_batch(text) else {
            return;
        };
        for frame in frames {
            if frame.kind != "player" {
                continue;
            }
            let mover = frame
                .player()
                .and_then(|id| self.shared.roster.index_of(&id));
            let (Some(mover), Some(generation)) = (mover, frame.payload.generation) else {
                continue;
            };
            let Some(sent) = self.shared.ledger.record_first_delivery(
                &mut self.last_seen,
                &mut self.stats.duplicates,
                mover,
                generation,
                NOT_A_BOT,
            ) else {
                continue;
            };
            let latency = now_us.saturating_sub(sent);
            self.latencies.record(latency);
            self.stats.received += 1;
            self.stats.late += u64::from(latency > self.shared.late_us);
        }
    }
}
