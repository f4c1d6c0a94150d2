//! Replay: a game's history played back on a timeline (`/game/{id}/replay?t=MS`).
//!
//! The history comes from the HTTP API in windows (`?from=&to=`, docs/protocol.md,
//! "History"): each window starts with the latest snapshot at or before `from` and holds
//! every update after it up to `to`, so one window alone describes the game at any time
//! it covers. This sub-state keeps a few windows, the moment shown (`at`) and how
//! playback goes; it decides which frames change the world to show `at`, and the
//! reducer applies them with the very rules it applies a live game's frames with
//! ([`Draw`]). It never fetches: it names the window it wants ([`Replay::request`]) and
//! the page's effect fetches it and hands the text back ([`Event::Window`]).
//!
//! The world at a time `T` is: the snapshot, then its updates in `seq` order up to the
//! last one with `t <= T`. Moving forward applies only the updates since what is shown;
//! moving back, or beyond the windows that follow on from what is shown, rebuilds from
//! a snapshot. Both give the same board (tested below).

use std::rc::Rc;

use protocol::{ServerMessage, Uuid};

use crate::wire::history::{self, Body, Span};

/// The speeds playback offers: game time per real time.
pub const SPEEDS: [u32; 5] = [1, 2, 4, 8, 16];
/// How much game time one window asks for: at the server's snapshot every 10 s, a
/// window holds one snapshot and at most ~70 s of updates.
pub const WINDOW_MS: i64 = 60_000;
/// How many windows are kept: the one shown, up to two ahead while playing, and one
/// more arriving; the first to go is the one that ends first, not in use.
pub const KEPT_WINDOWS: usize = 4;
/// Playback asks for the next window when what is loaded ends within this much *real*
/// time (so sooner at a higher speed), to have it before it is needed.
pub const LEAD_MS: i64 = 5_000;

/// A replay's moment, playback and loaded history. `game` is `None` on a page that
/// plays instead.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Replay {
    /// The game replayed.
    pub game: Option<Uuid>,
    /// The history's times, as last asked; `None` until the first answer.
    pub span: Option<Span>,
    /// The moment shown (or being loaded), in ms since the epoch.
    pub at: i64,
    /// Whether time runs.
    pub playing: bool,
    /// Game time per real time, one of [`SPEEDS`].
    pub speed: u32,
    /// Lines of the history that could not be read (skipped).
    pub skipped: u32,
    /// Why the last fetch failed, until the next seek or play.
    pub failed: Option<String>,
    /// The window to fetch now, if any; the page fetches each new one once.
    pub request: Option<Request>,
    /// Where the page's address asked to start, until the span is known.
    asked: Option<i64>,
    /// The windows fetched, oldest first (shared: the state is cloned on every action).
    windows: Vec<Rc<Window>>,
    /// What the world shows now, if anything.
    shown: Option<Shown>,
    /// The time of the last tick while playing.
    last_tick: Option<i64>,
    /// How many requests were made: the next one's id.
    requests: u32,
}

/// A window to fetch: `GET /api/games/{game}/history?from=&to=`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Request {
    /// Tells two requests for the same times apart (a retry after a failure).
    pub id: u32,
    pub from: i64,
    pub to: i64,
}

/// What happens to a replay: the page's controls, its timer, and the fetches' answers.
#[derive(Clone, Debug, PartialEq)]
pub enum Event {
    /// The page opened the replay of `game` at `at` (its address's `t`), else at the
    /// start of the history.
    Open {
        game: Uuid,
        at: Option<i64>,
    },
    /// The history's span arrived (the text of `/history/span`).
    Span(String),
    /// The window asked for by `request` arrived: its JSON Lines, and whether the
    /// server cut it short of `to` (at its most updates a window holds; header
    /// `History-Truncated`).
    Window {
        request: Request,
        text: String,
        truncated: bool,
    },
    /// A fetch failed: why.
    Failed(String),
    /// Go to that moment.
    Seek(i64),
    Play,
    Pause,
    /// Play at that speed (one of [`SPEEDS`]; another is ignored).
    Speed(u32),
    /// The page's timer, with the time now (ms): while playing, time moves on by the
    /// real time since the last tick times the speed.
    Tick(i64),
}

/// How to change the world shown: clear it first (a rebuild from a snapshot) or not,
/// then apply these frames in order, as frames of the world stream.
#[derive(Debug, Default, PartialEq)]
pub struct Draw {
    pub clear: bool,
    pub frames: Vec<ServerMessage>,
}

/// What the world shows: the game at time `t`, whose last update applied is `seq`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Shown {
    seq: u64,
    t: i64,
}

/// One window of history, as a request returned it.
#[derive(Debug)]
struct Window {
    /// The snapshot it starts from: its `seq` and frames; none when the history had no
    /// snapshot at or before `from` (then the game starts from nothing).
    base: Option<(u64, Vec<ServerMessage>)>,
    /// The updates after it, in `seq` order: (seq, t, frame).
    updates: Vec<(u64, i64, ServerMessage)>,
    /// From when it describes the game: its snapshot's time (which may be after the
    /// `from` asked, when nothing is kept before), else the `from` asked.
    start: i64,
    /// Until when it describes the game: the `to` asked (never beyond the history's
    /// last time known when asking, so a live game's later records are not missed);
    /// if the server cut it short, just before its last update's time (more updates of
    /// that very millisecond may have been cut).
    end: i64,
}

/// A window is only ever equal to itself: one fetch, shared by the states cloned from
/// the one it arrived in. (Comparing the frames would cost the page the code of
/// comparing every kind of frame, for nothing: yew compares states to decide whether
/// to redraw.)
impl PartialEq for Window {
    fn eq(&self, other: &Window) -> bool {
        std::ptr::eq(self, other)
    }
}

impl Window {
    fn new(request: Request, text: &str, truncated: bool) -> (Window, u32) {
        let (records, skipped) = history::parse_lines(text);
        let mut window = Window {
            base: None,
            updates: Vec::with_capacity(records.len()),
            start: request.from,
            end: request.to,
        };
        for (i, record) in records.into_iter().enumerate() {
            match record.body {
                // only the first line is a window's snapshot (the contract)
                Body::Snapshot(frames) if i == 0 => {
                    // after `from` when nothing is kept at or before it (the API then
                    // starts at the first snapshot kept)
                    window.start = record.t;
                    window.base = Some((record.seq, frames));
                }
                Body::Snapshot(_) => {}
                Body::Update(frame) => window.updates.push((record.seq, record.t, frame)),
            }
        }
        // a snapshot after `to` (nothing kept before it) still shows its own moment
        window.end = window.end.max(window.start);
        if let (true, Some((_, t, _))) = (truncated, window.updates.last()) {
            // never before `from`, so that the time asked for is always covered
            window.end = (t - 1).clamp(request.from, request.to);
        }
        (window, skipped)
    }

    fn base_seq(&self) -> u64 {
        self.base.as_ref().map_or(0, |(seq, _)| *seq)
    }

    fn covers(&self, t: i64) -> bool {
        self.start <= t && t <= self.end
    }

    /// The updates after update `after` up to time `t`, with the last one's seq.
    fn updates_until(&self, after: u64, t: i64) -> (Vec<ServerMessage>, Option<u64>) {
        let mut last = None;
        let frames = self
            .updates
            .iter()
            .skip_while(|(seq, _, _)| *seq <= after)
            .take_while(|(_, time, _)| *time <= t)
            .map(|(seq, _, frame)| {
                last = Some(*seq);
                frame.clone()
            })
            .collect();
        (frames, last)
    }
}

impl Replay {
    /// Whether this page replays (rather than plays).
    pub fn on(&self) -> bool {
        self.game.is_some()
    }

    /// The first and last moment of the history, once known and not empty.
    pub fn bounds(&self) -> Option<(i64, i64)> {
        self.span.and_then(|s| s.first_last)
    }

    /// Whether the world shows a moment of the history (maybe not `at` yet).
    pub fn showing(&self) -> bool {
        self.shown.is_some()
    }

    /// Whether the world shows `at` (not still loading it).
    pub fn ready(&self) -> bool {
        self.shown.is_some_and(|s| s.t == self.at)
    }

    /// Applies one event; what to change in the world to show the new moment, if
    /// anything.
    pub fn apply(&mut self, event: Event) -> Option<Draw> {
        let draw = match event {
            Event::Open { game, at } => {
                *self = Replay {
                    game: Some(game),
                    asked: at,
                    speed: 1,
                    ..Replay::default()
                };
                None
            }
            Event::Span(text) => match history::parse_span(&text) {
                Some(span) => {
                    self.span = Some(span);
                    match span.first_last {
                        Some((first, last)) => {
                            let at = self.asked.take().unwrap_or(self.at);
                            self.at = at.clamp(first, last);
                            self.show()
                        }
                        None => None,
                    }
                }
                None => self.fail("the history's span could not be read"),
            },
            Event::Window {
                request,
                text,
                truncated,
            } => {
                if self.request == Some(request) {
                    self.request = None;
                }
                let (window, skipped) = Window::new(request, &text, truncated);
                self.skipped += skipped;
                // cut short before reaching past `from`: asking again would get the same
                if truncated && window.end <= request.from && request.from < request.to {
                    self.fail("too many updates between two snapshots to replay past here");
                }
                // a moment before the history kept cannot be shown: the first that can
                if request.from < window.start && request.from <= self.at && self.at < window.start
                {
                    self.at = window.start;
                }
                self.windows.push(Rc::new(window));
                if self.windows.len() > KEPT_WINDOWS {
                    // the one that ends first among those not in use (those behind go
                    // before those ahead); else the oldest
                    let at = self.at;
                    let spare = (0..self.windows.len())
                        .filter(|&i| !self.windows[i].covers(at))
                        .min_by_key(|&i| self.windows[i].end);
                    self.windows.remove(spare.unwrap_or(0));
                }
                self.show()
            }
            Event::Failed(why) => self.fail(&why),
            Event::Seek(t) => {
                let Some((first, last)) = self.bounds() else {
                    return None;
                };
                self.failed = None;
                self.at = t.clamp(first, last);
                self.show()
            }
            Event::Play => {
                let Some((first, last)) = self.bounds() else {
                    return None;
                };
                // played to its end: play it again from the start
                if self.at >= last && !self.live() {
                    self.at = first;
                }
                self.playing = true;
                self.last_tick = None;
                self.failed = None;
                self.show()
            }
            Event::Pause => {
                self.playing = false;
                None
            }
            Event::Speed(speed) => {
                if SPEEDS.contains(&speed) {
                    self.speed = speed;
                }
                None
            }
            Event::Tick(now) => self.tick(now),
        };
        self.update_request();
        draw
    }

    fn live(&self) -> bool {
        self.span.is_some_and(|s| s.live)
    }

    fn fail(&mut self, why: &str) -> Option<Draw> {
        self.failed = Some(why.into());
        self.request = None;
        self.playing = false;
        None
    }

    /// Moves time on by the real time since the last tick times the speed, no further
    /// than the history (a live game's end grows) nor what is loaded (then playback
    /// waits for the next window).
    fn tick(&mut self, now: i64) -> Option<Draw> {
        if !self.playing {
            return None;
        }
        let elapsed = self.last_tick.map_or(0, |last| (now - last).max(0));
        self.last_tick = Some(now);
        let (_, last) = self.bounds()?;
        let target = (self.at + elapsed * i64::from(self.speed))
            .min(last)
            .min(self.reach());
        if target >= last && !self.live() {
            self.playing = false;
        }
        self.at = target;
        self.show()
    }

    /// How far time can run from what is shown on the windows loaded: the end of the
    /// window covering it, then of each window that starts within the last.
    fn reach(&self) -> i64 {
        if !self.ready() {
            return self.at;
        }
        let mut reach = self.at;
        while let Some(end) = self
            .windows
            .iter()
            .filter(|w| w.start <= reach && w.end > reach)
            .map(|w| w.end)
            .max()
        {
            reach = end;
        }
        reach
    }

    /// What to change in the world to show `at`: the updates since what is shown if a
    /// window has them all, else a rebuild from the window covering `at` whose
    /// snapshot is the latest; nothing while no window covers it (it is then asked for).
    fn show(&mut self) -> Option<Draw> {
        let t = self.at;
        if let Some(shown) = self.shown.filter(|s| s.t <= t) {
            if shown.t == t {
                return None;
            }
            let onward = self
                .windows
                .iter()
                .find(|w| w.covers(t) && w.base_seq() <= shown.seq);
            if let Some(window) = onward {
                let (frames, last) = window.updates_until(shown.seq, t);
                self.shown = Some(Shown {
                    seq: last.unwrap_or(shown.seq),
                    t,
                });
                return Some(Draw {
                    clear: false,
                    frames,
                });
            }
        }
        let window = self
            .windows
            .iter()
            .filter(|w| w.covers(t))
            .max_by_key(|w| w.start)?;
        let base_seq = window.base_seq();
        let mut frames = window
            .base
            .as_ref()
            .map(|(_, frames)| frames.clone())
            .unwrap_or_default();
        let (updates, last) = window.updates_until(base_seq, t);
        frames.extend(updates);
        self.shown = Some(Shown {
            seq: last.unwrap_or(base_seq),
            t,
        });
        Some(Draw {
            clear: true,
            frames,
        })
    }

    /// The window needed now, as `(from, to)`: the one covering `at` while it is not
    /// shown (up to `at` only while paused), else while playing the one after what is
    /// loaded, once that ends within [`LEAD_MS`] of real time. `to` never passes the
    /// history's last time known.
    fn wanted(&self) -> Option<(i64, i64)> {
        let (_, last) = self.bounds()?;
        let from = if !self.ready() {
            self.at
        } else {
            let reach = self.reach();
            let soon = LEAD_MS * i64::from(self.speed);
            // room for one more ahead, so that it does not push out one ahead of it
            let ahead = self.windows.iter().filter(|w| w.end > self.at).count();
            if !self.playing
                || reach >= last
                || reach - self.at >= soon
                || ahead >= KEPT_WINDOWS - 1
            {
                return None;
            }
            reach
        };
        // paused, a seek needs only the moment itself: the snapshot and at most 10 s of
        // updates, a fraction of a whole window (at 200 updates a second, 0.3 MB
        // against 2 MB); the rest comes when playing needs it
        let span = if self.playing { WINDOW_MS } else { 0 };
        Some((from, (from + span).min(last)))
    }

    /// Asks for the window needed, one at a time: while one is in flight nothing else is
    /// asked (dragging the seek bar asks for where it is when the last answer came, not
    /// for every place it passed: the API limits reads per address); none after a
    /// failure until the user seeks or plays again.
    fn update_request(&mut self) {
        if self.request.is_some() || self.failed.is_some() {
            return;
        }
        if let Some((from, to)) = self.wanted() {
            self.requests += 1;
            self.request = Some(Request {
                id: self.requests,
                from,
                to,
            });
        }
    }
}

impl Request {
    /// The request's address, for game `game`.
    pub fn url(&self, game: Uuid) -> String {
        format!(
            "/api/games/{game}/history?from={}&to={}",
            self.from, self.to
        )
    }
}

/// The address of the span of `game`'s history.
pub fn span_url(game: Uuid) -> String {
    format!("/api/games/{game}/history/span")
}

/// The page's address of `game`'s replay at moment `t`: a link to that moment.
pub fn moment_url(game: Uuid, t: i64) -> String {
    format!("/game/{game}/replay?t={t}")
}

/// A time span as a clock shows it: `m:ss`, or `h:mm:ss` from an hour on.
pub fn duration(ms: i64) -> String {
    let s = ms.max(0) / 1000;
    let (h, m, s) = (s / 3600, s / 60 % 60, s % 60);
    if h > 0 {
        format!("{h}:{m:02}:{s:02}")
    } else {
        format!("{m}:{s:02}")
    }
}

/// A moment as `YYYY-MM-DD HH:MM:SS UTC` (the proleptic Gregorian calendar).
pub fn clock(ms: i64) -> String {
    let secs = ms.div_euclid(1000);
    let (days, of_day) = (secs.div_euclid(86_400), secs.rem_euclid(86_400));
    // days since 1970-01-01 to a civil date (Howard Hinnant's `civil_from_days`)
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02} {:02}:{:02}:{:02} UTC",
        of_day / 3600,
        of_day / 60 % 60,
        of_day % 60
    )
}

#[cfg(test)]
mod tests;
