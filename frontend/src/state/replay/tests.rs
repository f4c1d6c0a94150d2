//! The replay against a history written here: a synthetic game of three spiders that
//! move, catch flies, chat, leave and come back, with a snapshot every 10 s, served
//! by a fake of the history API that follows its contract.

use protocol::{Cell, Uuid};

use super::*;
use crate::state::testing::offline;
use crate::state::{Action, GameState};

const GAME: Uuid = Uuid::from_u128(0x6f1a4a5e_0000_4000_8000_0000000000aa);
/// When the synthetic game starts (ms since the epoch).
const T0: i64 = 1_796_800_000_000;
/// One update every STEP_MS.
const STEP_MS: i64 = 250;
const SNAPSHOT_EVERY_MS: i64 = 10_000;
const GEOMETRY: &str = r#"{"messageType":"geometry","payload":{"halfSizeX":20,"halfSizeY":12}}"#;
const BRICKS: [(i32, i32); 2] = [(3, 0), (4, 6)];
const FLY: Uuid = Uuid::from_u128(0xf1);

/// A spider of the synthetic game as the model knows it.
#[derive(Clone)]
struct Spider {
    id: Uuid,
    name: &'static str,
    cell: Cell,
    h: bool,
    generation: i32,
    score: u32,
    active: bool,
}

/// The synthetic game: the model of the world, and its history as JSON Lines.
struct History {
    /// (seq, t, line, is a snapshot), in seq order.
    records: Vec<(u64, i64, String, bool)>,
    spiders: Vec<Spider>,
    fly: Cell,
    /// Every chat line said: (frame, name, text).
    chat: Vec<(String, String, String)>,
    seq: u64,
    step: u64,
    t: i64,
    /// Most updates the fake API puts in a window (the server's cap).
    cap: usize,
}

impl History {
    /// A game played for `secs` seconds.
    fn played(secs: i64) -> History {
        let spider = |n: u128, name, y| Spider {
            id: Uuid::from_u128(n),
            name,
            cell: Cell::new(0, y),
            h: false,
            generation: 0,
            score: 0,
            active: true,
        };
        let mut h = History {
            records: Vec::new(),
            spiders: vec![spider(1, "Ana", 1), spider(2, "Bo", 3), spider(3, "Cy", 5)],
            fly: Cell::new(7, 1),
            chat: Vec::new(),
            seq: 1_000,
            step: 0,
            t: T0,
            cap: usize::MAX,
        };
        // the room writes a snapshot when the game is loaded
        h.snapshot();
        h.play_until(T0 + secs * 1000);
        h
    }

    /// Plays on until `end`, a step every STEP_MS, a snapshot every 10 s.
    fn play_until(&mut self, end: i64) {
        while self.t + STEP_MS <= end {
            self.t += STEP_MS;
            self.one_step();
            if (self.t - T0) % SNAPSHOT_EVERY_MS == 0 {
                self.snapshot();
            }
        }
    }

    fn first(&self) -> i64 {
        self.records[0].1
    }

    fn last(&self) -> i64 {
        self.records.last().unwrap().1
    }

    fn update(&mut self, frame: String) {
        self.seq += 1;
        let line = format!(r#"{{"seq":{},"t":{},"frame":{frame}}}"#, self.seq, self.t);
        self.records.push((self.seq, self.t, line, false));
    }

    fn one_step(&mut self) {
        self.step += 1;
        let k = (self.step % 3) as usize;
        let mut s = self.spiders[k].clone();
        let away = (62..110).contains(&(self.step % 120));
        if s.id == Uuid::from_u128(3) && away {
            // every 30 s, Cy leaves for 12 s, then comes back where it was
            if !s.active {
                return;
            }
            s.active = false;
            self.spiders[k] = s.clone();
            self.update(format!(
                r#"{{"messageType":"leaving","playerID":"{}","payload":{{"name":"{}"}}}}"#,
                s.id, s.name
            ));
            return;
        }
        s.active = true;
        s.cell = Cell::new((s.cell.x + 1) % 12, s.cell.y);
        s.generation += 1;
        s.h = self.step % 10 == 0;
        self.spiders[k] = s.clone();
        self.update(player(&s));
        if s.cell == self.fly {
            // a catch: the fly goes elsewhere, the catcher scores
            self.fly = Cell::new((self.fly.x + 5) % 12, [1, 3, 5][(self.step % 3) as usize]);
            self.spiders[k].score += 1;
            self.update(food(self.fly));
            self.update(score(&self.spiders[k]));
        }
        if self.step % 11 == 0 {
            let text = format!("line {}", self.step);
            let frame = chat(&s, &text, self.step);
            self.chat.push((frame.clone(), s.name.into(), text));
            self.update(frame);
        }
    }

    /// A snapshot of the model, as a brief lists the game, then the last 10 chat lines.
    fn snapshot(&mut self) {
        let mut frames = vec![GEOMETRY.to_string()];
        for (x, y) in BRICKS {
            frames.push(format!(
                r#"{{"messageType":"brick","payload":{{"x":{x},"y":{y},"name":"brick"}}}}"#
            ));
        }
        frames.extend(self.spiders.iter().filter(|s| s.active).map(player));
        frames.push(food(self.fly));
        frames.extend(self.spiders.iter().filter(|s| s.score > 0).map(score));
        let from = self.chat.len().saturating_sub(10);
        frames.extend(self.chat[from..].iter().map(|(frame, ..)| frame.clone()));
        let line = format!(
            r#"{{"seq":{},"t":{},"snapshot":[{}]}}"#,
            self.seq,
            self.t,
            frames.join(",")
        );
        self.records.push((self.seq, self.t, line, true));
    }

    /// The API's answer to `?from=&to=`: the latest snapshot at or before `from`, then
    /// every update after it up to `to`, at most `cap` of them; and whether it was cut
    /// short.
    fn window(&self, from: i64, to: i64) -> (String, bool) {
        let base = self
            .records
            .iter()
            .filter(|(_, t, _, snapshot)| *snapshot && *t <= from)
            .last()
            .expect("a snapshot at or before from");
        let mut lines = vec![base.2.clone()];
        let mut updates = self
            .records
            .iter()
            .filter(|(seq, t, _, snapshot)| !snapshot && *seq > base.0 && *t <= to);
        lines.extend(updates.by_ref().take(self.cap).map(|r| r.2.clone()));
        let truncated = updates.next().is_some();
        (lines.join("\n") + "\n", truncated)
    }

    fn span(&self, live: bool) -> String {
        format!(
            r#"{{"game":"{GAME}","first":{},"last":{},"live":{live}}}"#,
            self.first(),
            self.last()
        )
    }
}

fn player(s: &Spider) -> String {
    format!(
        r#"{{"messageType":"player","playerID":"{}","payload":{{"x":{},"y":{},"h":{},"generation":{},"name":"{}"}}}}"#,
        s.id, s.cell.x, s.cell.y, s.h, s.generation, s.name
    )
}

fn food(cell: Cell) -> String {
    format!(
        r#"{{"messageType":"food","foodID":"{FLY}","payload":{{"x":{},"y":{},"name":"fly"}}}}"#,
        cell.x, cell.y
    )
}

fn score(s: &Spider) -> String {
    format!(
        r#"{{"messageType":"score","playerID":"{}","payload":{{"name":"{}","score":{}}}}}"#,
        s.id, s.name, s.score
    )
}

fn chat(s: &Spider, text: &str, n: u64) -> String {
    format!(
        r#"{{"messageType":"chat","playerID":"{}","payload":{{"id":"c{n}","name":"{}","text":"{text}"}}}}"#,
        s.id, s.name
    )
}

/// What a user sees of a moment: spiders on the field (id, cell, hearts, name), flies,
/// bricks, the scoreboard and the chat. (Which way a spider faces is not part of it: a
/// snapshot does not say.)
#[derive(Debug, PartialEq)]
struct Seen {
    spiders: Vec<(Uuid, Cell, bool, String)>,
    flies: Vec<(Uuid, Cell)>,
    bricks: Vec<Cell>,
    scores: Vec<(String, u32)>,
    chat: Vec<(String, String)>,
}

fn seen(s: &GameState) -> Seen {
    let mut spiders: Vec<_> = s
        .others()
        .map(|(id, p)| (id, p.cell.unwrap(), p.h, p.name.clone()))
        .collect();
    spiders.sort_by_key(|(id, ..)| *id);
    let mut flies: Vec<_> = s.world.known.food.iter().map(|f| (f.id, f.cell)).collect();
    flies.sort_by_key(|(id, _)| *id);
    let mut bricks: Vec<_> = s.world.known.bricks.iter().map(|b| b.cell).collect();
    bricks.sort_by_key(|c| (c.x, c.y));
    Seen {
        spiders,
        flies,
        bricks,
        scores: s
            .world
            .top_scores()
            .iter()
            .map(|(_, p)| (p.name.clone(), p.score))
            .collect(),
        chat: s
            .chat
            .lines
            .iter()
            .map(|l| (l.name.clone(), l.text.clone()))
            .collect(),
    }
}

/// The model's own view of the moment `t`: the truth the replay must show.
fn truth(t: i64) -> Seen {
    let mut at = History::played(0);
    at.play_until(t);
    let mut spiders: Vec<_> = at
        .spiders
        .iter()
        .filter(|s| s.active)
        .map(|s| (s.id, s.cell, s.h, s.name.to_string()))
        .collect();
    spiders.sort_by_key(|(id, ..)| *id);
    let mut scored: Vec<&Spider> = at.spiders.iter().filter(|s| s.score > 0).collect();
    scored.sort_by(|a, b| (b.score, a.name).cmp(&(a.score, b.name)));
    let from = at.chat.len().saturating_sub(10);
    Seen {
        spiders,
        flies: vec![(FLY, at.fly)],
        bricks: BRICKS.iter().map(|&(x, y)| Cell::new(x, y)).collect(),
        scores: scored
            .iter()
            .map(|s| (s.name.to_string(), s.score))
            .collect(),
        chat: at.chat[from..]
            .iter()
            .map(|(_, name, text)| (name.clone(), text.clone()))
            .collect(),
    }
}

fn replay(s: &mut GameState, event: Event) {
    s.apply(Action::Replay(event));
}

/// Answers every window the replay asks for, as the page's effect does.
fn serve(s: &mut GameState, h: &History) {
    for _ in 0..20 {
        let Some(request) = s.replay.request else {
            return;
        };
        let (text, truncated) = h.window(request.from, request.to);
        replay(
            s,
            Event::Window {
                request,
                text,
                truncated,
            },
        );
    }
    panic!("the replay keeps asking for windows");
}

/// A replay page opened at `at` (None: the start), not answered yet.
fn opening(at: Option<i64>) -> GameState {
    let mut s = offline();
    replay(&mut s, Event::Open { game: GAME, at });
    s
}

/// A replay page opened on `h` at `at` (the address's `t`), its span and first window
/// answered.
fn opened(h: &History, at: Option<i64>, live: bool) -> GameState {
    let mut s = opening(at);
    replay(&mut s, Event::Span(h.span(live)));
    serve(&mut s, h);
    assert!(s.replay.ready(), "the moment is shown");
    s
}

/// Plays from what is shown to `t` at the current speed, with ticks of at most 300 ms
/// of real time, answering the windows asked for on the way; returns the real time
/// it took (ms).
fn play_to(s: &mut GameState, h: &History, t: i64) -> i64 {
    let speed = i64::from(s.replay.speed);
    replay(s, Event::Play);
    serve(s, h);
    let mut now = 0;
    replay(s, Event::Tick(now));
    while s.replay.at < t {
        serve(s, h);
        let step = ((t - s.replay.at) / speed).min(300);
        now += step.max(1);
        replay(s, Event::Tick(now));
        assert!(now < 10_000_000, "playback stalled at {}", s.replay.at);
    }
    replay(s, Event::Pause);
    now
}

#[test]
fn opening_at_a_moment_shows_the_game_as_it_was_then() {
    let h = History::played(180);
    for t in [h.first(), T0 + 37_400, T0 + 120_000, T0 + 143_125, h.last()] {
        let s = opened(&h, Some(t), false);
        assert_eq!(s.replay.at, t);
        assert_eq!(seen(&s), truth(t), "at {}", t - T0);
    }
    // the field shows something: three spiders, one of them Cy back after leaving
    let s = opened(&h, Some(T0 + 150_000), false);
    assert_eq!(seen(&s).spiders.len(), 3);
    assert!(!seen(&s).chat.is_empty() && !seen(&s).scores.is_empty());
    // Cy left at step 62 (15.5 s) and came back at step 110 (27.5 s)
    let s = opened(&h, Some(T0 + 20_000), false);
    assert_eq!(seen(&s).spiders.len(), 2, "Cy is away at 20 s");
}

#[test]
fn seeking_back_and_forth_gives_the_same_board_as_playing_up_to_that_moment() {
    let h = History::played(180);
    let mut played = opened(&h, None, false);
    assert_eq!(
        played.replay.at,
        h.first(),
        "no t: the start of the history"
    );
    let mut sought = opened(&h, None, false);
    for t in [
        T0 + 20_000,
        T0 + 61_750,
        T0 + 95_000,
        T0 + 131_000,
        T0 + 179_000,
    ] {
        play_to(&mut played, &h, t);
        assert_eq!(played.replay.at, t);
        assert_eq!(seen(&played), truth(t), "played to {} s", (t - T0) / 1000);
        // seek there from far behind, from the end, and from close by
        for from in [h.first(), h.last(), t - 3_000, t + 1_250] {
            replay(&mut sought, Event::Seek(from));
            serve(&mut sought, &h);
            replay(&mut sought, Event::Seek(t));
            serve(&mut sought, &h);
            assert_eq!(
                seen(&sought),
                seen(&played),
                "sought {} from {}",
                t - T0,
                from - T0
            );
        }
    }
    assert!(
        played.replay.windows.len() <= KEPT_WINDOWS,
        "{} windows kept",
        played.replay.windows.len()
    );
}

#[test]
fn playback_moves_at_its_speed_and_stops_when_paused() {
    let h = History::played(120);
    let mut s = opened(&h, Some(T0 + 10_000), false);
    replay(&mut s, Event::Speed(3));
    assert_eq!(s.replay.speed, 1, "3x is not offered");
    replay(&mut s, Event::Speed(4));
    replay(&mut s, Event::Play);
    serve(&mut s, &h);
    replay(&mut s, Event::Tick(50_000));
    assert_eq!(
        s.replay.at,
        T0 + 10_000,
        "the first tick only starts the clock"
    );
    replay(&mut s, Event::Tick(51_000));
    assert_eq!(s.replay.at, T0 + 14_000, "one second at 4x");
    assert_eq!(seen(&s), truth(T0 + 14_000));
    replay(&mut s, Event::Speed(16));
    replay(&mut s, Event::Tick(51_500));
    assert_eq!(s.replay.at, T0 + 22_000, "half a second at 16x");
    replay(&mut s, Event::Pause);
    replay(&mut s, Event::Tick(60_000));
    assert_eq!(s.replay.at, T0 + 22_000, "paused: time stands");
    // playing again does not count the time paused
    replay(&mut s, Event::Play);
    serve(&mut s, &h);
    replay(&mut s, Event::Tick(70_000));
    replay(&mut s, Event::Tick(70_100));
    assert_eq!(s.replay.at, T0 + 23_600);
    assert_eq!(seen(&s), truth(T0 + 23_600));
}

#[test]
fn playback_waits_for_a_window_not_loaded_and_asks_for_it_ahead() {
    let h = History::played(180);
    let mut s = opened(&h, None, false);
    assert_eq!(
        s.replay.windows[0].end,
        h.first(),
        "paused, a seek loads the moment only"
    );
    replay(&mut s, Event::Speed(16));
    replay(&mut s, Event::Play);
    let playing = s.replay.request.expect("playing asks for a whole window");
    assert_eq!(
        (playing.from, playing.to),
        (h.first(), h.first() + WINDOW_MS)
    );
    serve(&mut s, &h);
    // at 16x LEAD_MS is 80 s of game: a second window came at once
    let loaded = s.replay.windows.iter().map(|w| w.end).max().unwrap();
    assert_eq!(loaded, h.first() + 2 * WINDOW_MS);
    replay(&mut s, Event::Tick(0));
    // the next window is asked for while what is loaded still lasts LEAD_MS at 16x
    let mut now = 0;
    while s.replay.request.is_none() {
        now += 100;
        replay(&mut s, Event::Tick(now));
    }
    let ahead = s.replay.request.unwrap();
    assert_eq!(
        ahead.from, loaded,
        "the next window starts where the loaded one ends"
    );
    assert!(loaded - s.replay.at <= LEAD_MS * 16 && loaded > s.replay.at);
    // not answered: time runs up to the end of what is loaded, no further
    replay(&mut s, Event::Tick(now + 60_000));
    assert_eq!(s.replay.at, loaded);
    assert!(s.replay.playing, "waiting, not stopped");
    assert_eq!(s.replay.request, Some(ahead), "asked once");
    serve(&mut s, &h);
    replay(&mut s, Event::Tick(now + 60_500));
    assert_eq!(s.replay.at, loaded + 8_000);
    assert_eq!(seen(&s), truth(loaded + 8_000));
}

#[test]
fn an_ended_game_plays_to_its_end_then_again_from_the_start() {
    let h = History::played(60);
    let mut s = opened(&h, Some(h.last() - 2_000), false);
    replay(&mut s, Event::Play);
    serve(&mut s, &h);
    replay(&mut s, Event::Tick(0));
    replay(&mut s, Event::Tick(10_000));
    assert_eq!(s.replay.at, h.last(), "never beyond the last record");
    assert!(!s.replay.playing, "stopped at the end");
    assert_eq!(seen(&s), truth(h.last()));
    replay(&mut s, Event::Seek(h.last() + 60_000));
    assert_eq!(
        s.replay.at,
        h.last(),
        "a seek beyond the end goes to the end"
    );
    replay(&mut s, Event::Seek(h.first() - 60_000));
    assert_eq!(
        s.replay.at,
        h.first(),
        "a seek before the start goes to the start"
    );
    replay(&mut s, Event::Seek(h.last()));
    replay(&mut s, Event::Play);
    assert_eq!(s.replay.at, h.first(), "play at the end starts over");
    serve(&mut s, &h);
    assert_eq!(seen(&s), truth(h.first()));
}

#[test]
fn a_live_game_s_end_grows_and_playback_follows_it() {
    let mut h = History::played(30);
    let mut s = opened(&h, Some(h.last() - 1_000), true);
    replay(&mut s, Event::Play);
    serve(&mut s, &h);
    replay(&mut s, Event::Tick(0));
    replay(&mut s, Event::Tick(5_000));
    assert_eq!(s.replay.at, h.last());
    assert!(s.replay.playing, "a live game's replay waits at its end");
    assert_eq!(s.replay.request, None, "nothing more to ask for yet");
    // the game goes on for 20 s; the page asks for the span again
    let end = h.last() + 20_000;
    h.play_until(end);
    replay(&mut s, Event::Span(h.span(true)));
    assert_eq!(s.replay.bounds().unwrap().1, end, "the seek bar grows");
    serve(&mut s, &h);
    replay(&mut s, Event::Tick(15_000));
    assert_eq!(s.replay.at, end - 10_000);
    assert_eq!(seen(&s), truth(end - 10_000));
    replay(&mut s, Event::Tick(40_000));
    assert_eq!(s.replay.at, end);
    assert_eq!(seen(&s), truth(end));
    // the game ended meanwhile: its replay stops at the end
    replay(&mut s, Event::Span(h.span(false)));
    replay(&mut s, Event::Tick(41_000));
    assert!(!s.replay.playing);
}

#[test]
fn malformed_lines_are_skipped_and_counted_never_fatal() {
    let h = History::played(60);
    let t = T0 + 45_000;
    let mut s = opening(Some(t));
    replay(&mut s, Event::Span(h.span(false)));
    let request = s.replay.request.expect("the window of t is asked for");
    let mut lines: Vec<String> = h
        .window(request.from, request.to)
        .0
        .lines()
        .map(String::from)
        .collect();
    lines.insert(3, "{\"seq\":".into());
    lines.insert(7, "garbage \u{1f577}".into());
    lines.insert(
        9,
        r#"{"seq":5,"t":6,"frame":{"messageType":"teleport","payload":{}}}"#.into(),
    );
    let text = lines.join("\n");
    replay(
        &mut s,
        Event::Window {
            request,
            text,
            truncated: false,
        },
    );
    assert_eq!(s.replay.skipped, 3);
    assert_eq!(seen(&s), truth(t), "the good lines still make the board");
    // a span that does not read is a failure shown, not a crash
    replay(&mut s, Event::Span("{\"first\":".into()));
    assert!(s.replay.failed.is_some());
}

#[test]
fn a_failed_fetch_stops_playback_until_the_user_acts_again() {
    let h = History::played(120);
    let mut s = opened(&h, None, false);
    replay(&mut s, Event::Seek(T0 + 100_000));
    let asked = s.replay.request.expect("a window is asked for");
    replay(&mut s, Event::Failed("status 503".into()));
    assert_eq!(s.replay.request, None);
    assert_eq!(s.replay.failed.as_deref(), Some("status 503"));
    replay(&mut s, Event::Tick(1_000));
    assert_eq!(s.replay.request, None, "no retry by itself");
    replay(&mut s, Event::Seek(T0 + 100_000));
    let again = s.replay.request.expect("asked again");
    assert_eq!((again.from, again.to), (asked.from, asked.to));
    assert_ne!(again.id, asked.id, "a new request, fetched anew");
    serve(&mut s, &h);
    assert_eq!(s.replay.failed, None);
    assert_eq!(seen(&s), truth(T0 + 100_000));
}

#[test]
fn dragging_the_seek_bar_asks_one_window_at_a_time_and_shows_where_it_stopped() {
    let h = History::played(180);
    let mut s = opened(&h, None, false);
    replay(&mut s, Event::Seek(T0 + 100_000));
    let first = s.replay.request.expect("a window is asked for");
    for t in (101..=170).map(|secs| T0 + secs * 1000) {
        replay(&mut s, Event::Seek(t));
        assert_eq!(s.replay.request, Some(first), "one request in flight");
    }
    serve(&mut s, &h);
    assert_eq!(
        s.replay.requests, 3,
        "the first window, 100 s, then 170 s only"
    );
    assert_eq!(s.replay.at, T0 + 170_000);
    assert_eq!(seen(&s), truth(T0 + 170_000));
    // an answer nobody waits for any more (asked before a failure) is kept, harmlessly
    replay(&mut s, Event::Seek(T0 + 75_000));
    let late = s.replay.request.expect("75 s is not loaded");
    replay(&mut s, Event::Failed("status 503".into()));
    let (text, truncated) = h.window(late.from, late.to);
    replay(
        &mut s,
        Event::Window {
            request: late,
            text,
            truncated,
        },
    );
    assert_eq!(seen(&s), truth(T0 + 75_000));
}

#[test]
fn windows_cut_short_by_the_server_are_asked_on_from_where_they_end() {
    let mut h = History::played(180);
    // about 16 s of this game's updates: more than a snapshot's 10 s, as the server's
    // 20,000 are for any game below 2,000 updates a second
    h.cap = 80;
    let mut s = opened(&h, Some(T0 + 30_000), false);
    assert_eq!(seen(&s), truth(T0 + 30_000));
    replay(&mut s, Event::Speed(8));
    for t in [T0 + 61_000, T0 + 125_500, T0 + 179_750] {
        play_to(&mut s, &h, t);
        assert_eq!(seen(&s), truth(t), "played to {}", t - T0);
    }
    assert!(
        s.replay.requests > 10,
        "{} windows of at most 50 updates",
        s.replay.requests
    );
}

#[test]
fn a_game_with_nothing_kept_shows_nothing_and_asks_nothing() {
    let mut s = opening(None);
    replay(
        &mut s,
        Event::Span(format!(
            r#"{{"game":"{GAME}","first":null,"last":null,"live":false}}"#
        )),
    );
    replay(&mut s, Event::Play);
    replay(&mut s, Event::Seek(T0));
    assert_eq!((s.replay.request, s.replay.playing), (None, false));
    assert_eq!(s.others().count(), 0);
}

#[test]
fn times_read_as_a_clock_does() {
    assert_eq!(duration(0), "0:00");
    assert_eq!(duration(61_999), "1:01");
    assert_eq!(duration(3_600_000 + 5_000), "1:00:05");
    assert_eq!(duration(-5), "0:00");
    assert_eq!(clock(0), "1970-01-01 00:00:00 UTC");
    assert_eq!(clock(951_782_400_000), "2000-02-29 00:00:00 UTC");
    assert_eq!(clock(1_796_812_345_678), "2026-12-09 10:32:25 UTC");
    assert_eq!(moment_url(GAME, 42), format!("/game/{GAME}/replay?t=42"));
    let request = Request {
        id: 1,
        from: 5,
        to: 9,
    };
    assert_eq!(
        request.url(GAME),
        format!("/api/games/{GAME}/history?from=5&to=9")
    );
}

#[test]
fn a_moment_before_the_first_snapshot_kept_moves_to_it() {
    let h = History::played(60);
    let mut s = opening(None);
    replay(&mut s, Event::Span(h.span(false)));
    let request = s.replay.request.unwrap();
    // the history kept starts with an update, its snapshot gone: the API answers from
    // the first snapshot kept, 10 s later
    let (text, _) = h.window(T0 + 10_000, request.to.max(T0 + 12_000));
    replay(
        &mut s,
        Event::Window {
            request,
            text,
            truncated: false,
        },
    );
    assert_eq!(s.replay.at, T0 + 10_000);
    assert!(s.replay.ready());
    assert_eq!(s.replay.request, None, "no request after request");
    assert_eq!(seen(&s), truth(T0 + 10_000));
}
