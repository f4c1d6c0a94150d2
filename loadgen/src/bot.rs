//! One bot player: its sockets ([`Sockets`]), its brief, its moves, and everything it
//! receives.
//!
//! A bot is one task: a `select!` over its sockets, the start signal and its own timer. No thread per bot, no lock per frame: deliveries go to the
//! shared [`Ledger`](crate::ledger::Ledger) through atomics and to the latency
//! histograms through a per-bot buffer.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{bail, Result};
use futures_util::SinkExt;
use protocol::{Board, Cell};
use protocol::{ChatFrom, ChatLine, ClientMessage, Entering, PlayerUpdate, ServerMessage, Uuid};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use tokio::sync::{mpsc, watch};
use tokio::time::{sleep, sleep_until};
use tokio_tungstenite::tungstenite::Message;

use crate::field::{Field, Other};
use crate::ledger::Ledger;
use crate::recorder::{Latencies, Recorder};
use crate::roster::Roster;
use crate::sockets::{Socket, SocketMode, Sockets, Stream};

/// The timeline of the measured part of a run, the same for every bot.
#[derive(Clone, Copy, Debug)]
pub struct Schedule {
    /// Bots start moving (each at a random phase within its first period).
    pub start: Instant,
    /// Bots stop moving.
    pub end: Instant,
    /// Bots stop listening: `end` plus the grace period.
    pub stop: Instant,
}

/// What every bot shares: read-only, or written through atomics only.
pub struct Shared {
    /// Where the servers listen: bot i connects to the i-th, round-robin.
    pub addrs: Vec<SocketAddr>,
    /// Moves per second per bot.
    pub rate: f64,
    /// Seconds between chat lines, 0 for none.
    pub chat_every: f64,
    /// Seconds between two drops of a bot's connection, 0 for none.
    pub drop_every: f64,
    /// How long a dropped bot stays away.
    pub drop_for: Duration,
    /// Whether a dropped bot names its last update when it comes back.
    pub resume: bool,
    /// Bots read the batched world stream (two-socket bots; the one socket always does).
    pub batched: bool,
    /// How many sockets each bot plays on.
    pub sockets: SocketMode,
    /// Deliveries slower than this are counted as late, in microseconds.
    pub late_us: u64,
    /// Every bot's id.
    pub roster: Roster,
    /// Every move's send time and deliveries.
    pub ledger: Ledger,
    /// The origin of every timestamp of the run.
    pub clock: Instant,
    /// Send to the mover's own validated update.
    pub to_self: Arc<Latencies>,
    /// Send to another bot's receipt of the update.
    pub to_others: Arc<Latencies>,
}

impl Shared {
    fn now_us(&self) -> u64 {
        self.us_at(Instant::now())
    }

    /// `at` as microseconds since the run's clock base (never 0, which means "unsent").
    pub(crate) fn us_at(&self, at: Instant) -> u64 {
        at.saturating_duration_since(self.clock).as_micros() as u64 + 1
    }
}

/// What one bot counted, added up into the report.
#[derive(Clone, Debug, Default)]
pub struct BotStats {
    /// The bot got through its brief.
    pub entered: bool,
    /// Why the bot stopped early, if it did.
    pub error: Option<String>,
    /// Messages received on both sockets (a batch counts once).
    pub frames_in: u64,
    /// World updates received, each update inside a batch counted.
    pub updates_in: u64,
    /// Frames received while the bots were moving (for frames per second).
    pub frames_in_window: u64,
    /// Bytes of text received on both sockets.
    pub bytes_in: u64,
    /// Frames sent (entering, moves, chat).
    pub frames_out: u64,
    /// Move frames sent.
    pub moves_sent: u64,
    /// Chat lines sent.
    pub chats_sent: u64,
    /// Chat lines from fellow bots received on the world socket.
    pub chats_received: u64,
    /// Moves of other bots this bot received (each counted once).
    pub others_received: u64,
    /// Updates of a bot's move that arrived again or out of order.
    pub duplicates: u64,
    /// Deliveries to the mover slower than the late threshold.
    pub late_self: u64,
    /// Deliveries to other bots slower than the late threshold.
    pub late_others: u64,
    /// `error` frames from the server.
    pub server_errors: u64,
    /// Chat lines from the server itself ("Good catch!").
    pub server_lines: u64,
    /// Frames that did not parse.
    pub unparsed: u64,
    /// Times this bot dropped its connection on purpose.
    pub drops: u64,
    /// Returns whose world stream resumed.
    pub resumed: u64,
}

/// What a bot tells the coordinator once, when its brief is over (or it failed).
pub type Ready = mpsc::Sender<bool>;

/// Runs bot `me` from its first connect to the end of the grace period.
pub async fn run(
    shared: Arc<Shared>,
    me: usize,
    connect_at: Instant,
    start: watch::Receiver<Option<Schedule>>,
    ready: Ready,
) -> BotStats {
    sleep_until(connect_at.into()).await;
    let mut bot = Bot::new(Arc::clone(&shared), me);
    let outcome = bot.play(start, &ready).await;
    if let Err(e) = outcome {
        if !bot.stats.entered {
            ready.send(false).await.ok();
        }
        bot.stats.error = Some(format!("{e:#}"));
    }
    bot.to_self.flush();
    bot.to_others.flush();
    bot.stats
}

/// A bot's own state.
struct Bot {
    /// Everything shared with the other bots.
    shared: Arc<Shared>,
    /// This bot's roster index.
    me: usize,
    /// This bot's player id.
    id: Uuid,
    /// This bot's name, repeated in every move.
    name: String,
    /// Bricks and other players, for choosing valid moves.
    field: Field,
    /// Where this bot believes it stands: its last move, or the server's correction.
    pos: Option<Cell>,
    /// The generation of this bot's last move (0 before the first).
    generation: i32,
    /// The cell each move asked for, by generation - 1, to tell a rejection.
    targets: Vec<Cell>,
    /// The highest generation received so far from each fellow bot.
    last_seen: Vec<i32>,
    /// This bot's random source (moves, phases, chat ids).
    rng: StdRng,
    /// Buffered latencies to the mover.
    to_self: Recorder,
    /// Buffered latencies to others.
    to_others: Recorder,
    /// When moves are being measured, once the start signal came.
    schedule: Option<Schedule>,
    /// The number of the last world update received (the batched stream's).
    last_seq: Option<u64>,
    /// Counters for the report.
    stats: BotStats,
}

impl Bot {
    fn new(shared: Arc<Shared>, me: usize) -> Self {
        let bots = shared.roster.len();
        Bot {
            id: shared.roster.id(me),
            name: Roster::name(me),
            field: Field::new(bots),
            pos: None,
            generation: 0,
            targets: Vec::new(),
            last_seen: vec![0; bots],
            rng: StdRng::from_entropy(),
            to_self: shared.to_self.recorder(),
            to_others: shared.to_others.recorder(),
            schedule: None,
            last_seq: None,
            stats: BotStats::default(),
            me,
            shared,
        }
    }

    async fn play(
        &mut self,
        mut start: watch::Receiver<Option<Schedule>>,
        ready: &Ready,
    ) -> Result<()> {
        let addr = self.shared.addrs[self.me % self.shared.addrs.len()];
        let game = self.shared.roster.game(self.me);
        let mut sockets = self.open(addr, game, None).await?;

        let far = Instant::now() + Duration::from_secs(86_400 * 365);
        let (mut next_move, mut next_chat, mut next_drop) = (far, far, far);
        let timer = sleep_until(far.into());
        tokio::pin!(timer);
        loop {
            let mut due = false;
            tokio::select! {
                (stream, frame) = sockets.next() => match (stream, frame) {
                    (Stream::World, Some(Ok(Message::Text(text)))) => self.on_world(&text),
                    (Stream::Player, Some(Ok(Message::Text(text)))) => {
                        let was_entered = self.stats.entered;
                        self.on_player(&text);
                        if self.stats.entered && !was_entered {
                            ready.send(true).await.ok();
                        }
                    }
                    (stream, Some(Ok(Message::Close(_))) | None) => {
                        bail!("the server closed the {} socket", stream.name())
                    }
                    (_, Some(Ok(_))) => {}
                    (_, Some(Err(e))) => return Err(e),
                },
                changed = start.changed(), if self.schedule.is_none() => {
                    if changed.is_err() {
                        bail!("the run was abandoned");
                    }
                    let Some(schedule) = *start.borrow() else { continue };
                    if !self.stats.entered {
                        bail!("not through the brief when the run started");
                    }
                    self.schedule = Some(schedule);
                    if self.shared.rate > 0.0 {
                        next_move = schedule.start + self.random_phase(1.0 / self.shared.rate);
                    }
                    if self.shared.chat_every > 0.0 {
                        next_chat = schedule.start + self.random_phase(self.shared.chat_every);
                    }
                    if self.shared.drop_every > 0.0 {
                        next_drop = schedule.start + self.random_phase(self.shared.drop_every);
                    }
                    due = true;
                },
                () = &mut timer => due = true,
            }
            if !due {
                continue;
            }
            let Some(schedule) = self.schedule else {
                continue;
            };
            let now = Instant::now();
            if now >= schedule.stop {
                break;
            }
            if now >= next_move && now < schedule.end {
                self.send_move(sockets.commands()).await?;
                next_move = skip_missed(next_move, 1.0 / self.shared.rate, now);
            }
            if now >= next_chat && now < schedule.end {
                self.send_chat(sockets.commands()).await?;
                next_chat = skip_missed(next_chat, self.shared.chat_every, now);
            }
            if now >= next_drop && now < schedule.end {
                // torn down without a close frame, as a page whose network went away
                drop(sockets);
                self.stats.drops += 1;
                sleep(self.shared.drop_for).await;
                let after = self.last_seq.filter(|_| self.shared.resume);
                sockets = self.open(addr, game, after).await?;
                next_drop = skip_missed(next_drop, self.shared.drop_every, Instant::now());
            }
            let mut wake = schedule.stop;
            for at in [next_move, next_chat, next_drop] {
                if at < schedule.end {
                    wake = wake.min(at);
                }
            }
            timer.as_mut().reset(wake.into());
        }
        sockets.close().await;
        Ok(())
    }

    /// Opens the bot's sockets (resuming after update `after`, if given) and enters.
    async fn open(
        &mut self,
        addr: std::net::SocketAddr,
        game: Option<Uuid>,
        after: Option<u64>,
    ) -> Result<Sockets> {
        let mut sockets = Sockets::open(
            addr,
            game,
            self.id,
            self.shared.sockets,
            self.shared.batched,
            after,
        )
        .await?;
        let entering = ClientMessage::Entering {
            payload: Entering::named(self.name.clone()),
        };
        sockets
            .commands()
            .send(Message::Text(entering.to_json()))
            .await?;
        self.stats.frames_out += 1;
        Ok(sockets)
    }

    fn random_phase(&mut self, period: f64) -> Duration {
        Duration::from_secs_f64(self.rng.gen_range(0.0..period.max(1e-6)))
    }

    async fn send_move(&mut self, player: &mut Socket) -> Result<()> {
        let Some(from) = self.pos else { return Ok(()) };
        let generation = self.generation + 1;
        if !self.shared.ledger.has_room(self.me, generation) {
            return Ok(());
        }
        let to = self.field.choose_step(from, &mut self.rng);
        let frame = ClientMessage::Player {
            payload: PlayerUpdate {
                x: Some(to.x),
                y: Some(to.y),
                h: false,
                generation,
                name: self.name.clone(),
            },
        }
        .to_json();
        self.generation = generation;
        self.targets.push(to);
        self.pos = Some(to);
        self.shared
            .ledger
            .record_sent(self.me, generation, self.shared.now_us());
        player.send(Message::Text(frame)).await?;
        self.stats.moves_sent += 1;
        self.stats.frames_out += 1;
        Ok(())
    }

    async fn send_chat(&mut self, player: &mut Socket) -> Result<()> {
        let n = self.stats.chats_sent + 1;
        let frame = ClientMessage::Chat {
            payload: ChatLine {
                id: Uuid::from_u128(self.rng.gen()).to_string(),
                name: self.name.clone(),
                text: format!("line {n} from {}", self.name),
            },
        }
        .to_json();
        player.send(Message::Text(frame)).await?;
        self.stats.chats_sent += 1;
        self.stats.frames_out += 1;
        Ok(())
    }

    fn count_frame(&mut self, text: &str, now: Instant) {
        self.stats.frames_in += 1;
        self.stats.bytes_in += text.len() as u64;
        if let Some(s) = self.schedule {
            if now >= s.start && now < s.end {
                self.stats.frames_in_window += 1;
            }
        }
    }

    /// A message of the world stream: the hot path. A batch (a JSON array) is its
    /// updates in order, each handled as if it had come alone.
    fn on_world(&mut self, text: &str) {
        let now = Instant::now();
        let now_us = self.shared.us_at(now);
        self.count_frame(text, now);
        if text.starts_with('[') {
            let Ok(frames) = crate::frame::WorldFrame::parse_batch(text) else {
                self.stats.unparsed += 1;
                return;
            };
            for frame in frames {
                self.on_update(&frame, now_us);
            }
        } else {
            let Ok(frame) = crate::frame::WorldFrame::parse(text) else {
                self.stats.unparsed += 1;
                return;
            };
            self.on_update(&frame, now_us);
        }
    }

    /// One world update.
    fn on_update(&mut self, frame: &crate::frame::WorldFrame<'_>, now_us: u64) {
        self.stats.updates_in += 1;
        if frame.seq.is_some() {
            self.last_seq = frame.seq;
        }
        if frame.kind == "resumed" {
            self.stats.resumed += 1;
        }
        let player = frame.player();
        let bot = player.and_then(|id| self.shared.roster.index_of(&id));
        match frame.kind {
            "player" => {
                let Some(id) = player else { return };
                let cell = frame.cell();
                if bot != Some(self.me) {
                    if let Some(cell) = cell {
                        self.field.place(other(bot, id), cell);
                    }
                }
                let (Some(mover), Some(generation)) = (bot, frame.payload.generation) else {
                    return;
                };
                if mover == self.me {
                    self.on_answer(generation, cell);
                }
                self.on_delivery(mover, generation, now_us);
            }
            "leaving" => {
                if let Some(id) = player {
                    if bot != Some(self.me) {
                        self.field.remove(other(bot, id));
                    }
                }
            }
            "chat" if bot.is_some() => self.stats.chats_received += 1,
            _ => {}
        }
    }

    fn on_delivery(&mut self, mover: usize, generation: i32, now_us: u64) {
        let Some(sent) = self.shared.ledger.record_first_delivery(
            &mut self.last_seen,
            &mut self.stats.duplicates,
            mover,
            generation,
            self.me,
        ) else {
            return;
        };
        let latency = now_us.saturating_sub(sent);
        let late = latency > self.shared.late_us;
        if mover == self.me {
            self.to_self.record(latency);
            self.stats.late_self += u64::from(late);
        } else {
            self.to_others.record(latency);
            self.stats.others_received += 1;
            self.stats.late_others += u64::from(late);
        }
    }

    /// The server's answer to this bot's move `generation`: where the bot now is. Another
    /// cell than the move asked for is a rejection (a snap-back). Answers to older moves
    /// do not move the bot back (the "flickering spiders" rule).
    fn on_answer(&mut self, generation: i32, cell: Option<Cell>) {
        let Some(cell) = cell else { return };
        let asked = usize::try_from(generation - 1)
            .ok()
            .and_then(|i| self.targets.get(i));
        if asked.is_some_and(|asked| *asked != cell) {
            self.shared.ledger.record_rejected(self.me, generation);
        }
        if generation == self.generation {
            self.pos = Some(cell);
        }
    }

    /// A direct reply: the brief, then answers meant for this bot only.
    fn on_player(&mut self, text: &str) {
        self.count_frame(text, Instant::now());
        let Ok(message) = ServerMessage::parse(text) else {
            self.stats.unparsed += 1;
            return;
        };
        match message {
            ServerMessage::Geometry { payload } => self.field.set_board(Board::from(payload)),
            ServerMessage::Brick { payload } => {
                self.field.add_brick(Cell::new(payload.x, payload.y))
            }
            ServerMessage::Player { player_id, payload } if player_id == self.id => {
                let Some(cell) = payload.x.zip(payload.y).map(|(x, y)| Cell::new(x, y)) else {
                    return;
                };
                if !self.stats.entered {
                    // the last frame of the brief: where the server put this bot
                    self.pos = Some(cell);
                    self.stats.entered = true;
                    return;
                }
                // a server may answer a rejected move to the mover alone
                self.on_answer(payload.generation, Some(cell));
            }
            ServerMessage::Player { player_id, payload } => {
                if let (Some(x), Some(y)) = (payload.x, payload.y) {
                    let bot = self.shared.roster.index_of(&player_id);
                    self.field.place(other(bot, player_id), Cell::new(x, y));
                }
            }
            ServerMessage::Chat {
                player_id: ChatFrom::Server,
                ..
            } => self.stats.server_lines += 1,
            ServerMessage::Error { .. } => self.stats.server_errors += 1,
            _ => {}
        }
    }
}

fn other(bot: Option<usize>, id: Uuid) -> Other {
    bot.map_or(Other::Stranger(id), Other::Bot)
}

/// The next tick after `now` on a fixed grid of `period` seconds from `at`: a bot that
/// fell behind skips ticks rather than sending a burst.
fn skip_missed(at: Instant, period: f64, now: Instant) -> Instant {
    let period = Duration::from_secs_f64(period);
    let mut next = at + period;
    if next <= now {
        let behind = now.duration_since(next).as_secs_f64();
        let skip = (behind / period.as_secs_f64()).floor() as u32 + 1;
        next += period * skip;
    }
    next
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_late_bot_skips_ticks_instead_of_bursting() {
        let t = Instant::now();
        let s = Duration::from_secs;
        assert_eq!(skip_missed(t, 1.0, t), t + s(1));
        assert_eq!(
            skip_missed(t, 1.0, t + Duration::from_millis(500)),
            t + s(1)
        );
        assert_eq!(
            skip_missed(t, 1.0, t + Duration::from_millis(3500)),
            t + s(4)
        );
        assert_eq!(skip_missed(t, 1.0, t + s(3)), t + s(4));
    }
}
