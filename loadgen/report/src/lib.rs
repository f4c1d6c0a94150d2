//! What a loadgen run measured: one struct, printed for people and as one JSON line
//! that `cargo xtask bench` reads back. Both sides use these types, and reading fails on
//! a missing field (an `Option` too: it must be there, as `null`), so a field renamed on
//! one side cannot read as zero on the other.

use std::fmt;

use serde::{Deserialize, Serialize};

/// The number of games of a report that does not say.
fn one() -> usize {
    1
}

/// Everything a run measured.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct Report {
    /// The `--label` of the run.
    pub label: String,
    /// Bots asked for.
    pub players: usize,
    /// Games the bots were spread over (1: all in the default game); absent in reports
    /// written before there were many games.
    #[serde(default = "one")]
    pub games: usize,
    /// Bots that got through their brief before the start.
    pub entered: usize,
    /// Bots that never entered, or stopped before the end (first error in `first_error`).
    pub failed: usize,
    /// One of the errors that stopped a bot, for diagnosis.
    #[serde(deserialize_with = "Option::deserialize")]
    pub first_error: Option<String>,
    /// Moves per second per bot, as asked.
    pub rate: f64,
    /// Seconds of moving, as asked.
    pub duration_s: f64,
    /// Moves sent by all bots.
    pub moves_sent: u64,
    /// Moves sent per second over the duration.
    pub moves_per_s: f64,
    /// Moves the server answered with another position (snap-back).
    pub moves_rejected: u64,
    /// Moves seen on at least one world socket (accepted, or snapped back in public).
    pub moves_published: u64,
    /// Moves never seen on any world socket nor rejected by the end of the grace period.
    pub moves_unanswered: u64,
    /// Frames received by all bots per second while they were moving.
    pub frames_in_per_s: f64,
    /// Frames (WebSocket messages) received by all bots over the whole run; a batch
    /// of the batched world stream counts once.
    pub frames_in: u64,
    /// World updates received by all bots over the whole run, each update inside a
    /// batch counted (absent in reports of older runs).
    #[serde(default)]
    pub world_updates_in: u64,
    /// Frames sent by all bots over the whole run.
    pub frames_out: u64,
    /// Bytes of frames received per second while the bots were moving.
    pub bytes_in_per_s: f64,
    /// Each mover receiving its own validated update on its world socket.
    pub to_self: Deliveries,
    /// Every other bot receiving a validated update.
    pub to_others: Deliveries,
    /// Updates that arrived twice or out of order (not counted as received).
    pub duplicates: u64,
    /// Chat lines sent.
    pub chats_sent: u64,
    /// Chat lines of bots received by bots.
    pub chats_received: u64,
    /// Chat lines the server wrote to a bot ("Good catch!").
    pub server_lines: u64,
    /// `error` frames the server sent.
    pub server_errors: u64,
    /// Frames no bot could parse.
    pub unparsed: u64,
    /// Times a bot dropped its connection on purpose (`--drop-every`).
    pub drops: u64,
    /// Of those, the returns whose world stream resumed where it broke (the others got
    /// a brief).
    pub resumed: u64,
    /// The server process, when it is local and known.
    #[serde(deserialize_with = "Option::deserialize")]
    pub server: Option<ServerFigures>,
    /// CPU of the load generator itself while the bots moved, percent of one core.
    pub loadgen_cpu_percent: f64,
    /// CPU of the whole machine while the bots moved, percent of one core: what is not
    /// the server's nor the generator's was someone else's, and skews the figures.
    pub machine_cpu_percent: f64,
    /// What the hostile clients beside the bots saw (`--hostile`), else `None`.
    #[serde(deserialize_with = "Option::deserialize")]
    pub hostile: Option<HostileFigures>,
    /// What the spectators beside the bots received (`--spectators`), else `None`
    /// (absent in reports of runs before spectators existed).
    #[serde(default)]
    pub spectators: Option<SpectatorFigures>,
}

/// What the spectators of a `--spectators` run received.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct SpectatorFigures {
    /// Spectators asked for.
    pub spectators: usize,
    /// Of those, briefed before the start.
    pub briefed: usize,
    /// Never briefed, or stopped before the end (an error in `first_error`).
    pub failed: usize,
    /// One of the errors that stopped a spectator.
    #[serde(deserialize_with = "Option::deserialize")]
    pub first_error: Option<String>,
    /// Messages the spectators received (a batch counts once).
    pub messages: u64,
    /// Bot moves that came to a spectator again or out of order.
    pub duplicates: u64,
    /// Every briefed spectator receiving every bot move of its game not rejected in
    /// private: expected, received, lost, late, latency from the mover's send.
    pub deliveries: Deliveries,
}

/// What the hostile clients of a `--hostile` run did and saw.
#[derive(Clone, Copy, Debug, Default, Serialize, Deserialize)]
pub struct HostileFigures {
    /// Spammers at once (each over the move and chat limits, back under a new id once
    /// closed).
    pub spammers: usize,
    /// Move and chat frames the spammers sent.
    pub spam_frames: u64,
    /// `error` frames the spammers got back (frames dropped over a limit).
    pub spam_errors: u64,
    /// Spammer sockets the server closed.
    pub spam_closed: u64,
    /// Spammer handshakes the server refused (their address was closed for flooding
    /// a moment ago).
    #[serde(default)]
    pub spam_refused: u64,
    /// Frames that are not the protocol, sent.
    pub garbage_frames: u64,
    /// Garbage sockets the server closed.
    pub garbage_closed: u64,
    /// Attempts to enter under an honest bot's id.
    pub thefts_tried: u64,
    /// Attempts refused (closed, or no brief).
    pub thefts_refused: u64,
    /// Attempts that got a brief: the id was taken.
    pub thefts_let_in: u64,
    /// Half-sent handshakes held open.
    pub slow_opened: u64,
    /// Of those, cut by the server before the end.
    pub slow_cut: u64,
    /// The longest a half-sent handshake was kept open, ms.
    pub slow_longest_ms: u64,
    /// Idle player sockets per flood, as asked.
    pub flood_sockets: usize,
    /// Idle sockets that opened, per flood.
    pub flood_opened: [usize; 2],
    /// Server memory before the first flood, KiB.
    pub rss_before_floods_kb: u64,
    /// Server memory while each flood was held, KiB.
    pub rss_during_floods_kb: [u64; 2],
    /// Server memory after each flood closed, KiB.
    pub rss_after_floods_kb: [u64; 2],
}

/// Deliveries of validated moves to one kind of receiver, against expectations.
#[derive(Clone, Copy, Debug, Default, Serialize, Deserialize)]
pub struct Deliveries {
    /// Deliveries that should have happened: every move not rejected, to each receiver.
    pub expected: u64,
    /// Deliveries that happened before the end of the grace period.
    pub received: u64,
    /// `expected - received`.
    pub lost: u64,
    /// Received, but slower than the late threshold.
    pub late: u64,
    /// Latency from send to receipt.
    pub latency: Summary,
}

/// The server's CPU and memory, from `/proc`.
#[derive(Clone, Copy, Debug, Default, Serialize, Deserialize)]
pub struct ServerFigures {
    /// The server's process id.
    pub pid: u32,
    /// From spawn to its first answered request, when this run spawned it.
    #[serde(deserialize_with = "Option::deserialize")]
    pub startup_ms: Option<f64>,
    /// CPU while the bots moved, percent of one core.
    pub cpu_percent: f64,
    /// Resident memory before any bot connected, KiB.
    pub rss_before_kb: u64,
    /// Resident memory once every bot had entered, KiB.
    pub rss_connected_kb: u64,
    /// Resident memory when the bots stopped moving, KiB.
    pub rss_end_kb: u64,
    /// Peak resident memory, KiB.
    pub hwm_kb: u64,
    /// `(rss_connected - rss_before) / entered`, KiB per connected player (with
    /// `--spectators`: per connected player or briefed spectator).
    pub kb_per_player: f64,
}

/// Percentiles of one latency distribution, in milliseconds.
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Summary {
    /// How many deliveries were measured.
    pub count: u64,
    pub p50_ms: f64,
    pub p90_ms: f64,
    pub p99_ms: f64,
    pub max_ms: f64,
}

impl Report {
    pub fn to_json(&self) -> String {
        // unwrap: the report holds only numbers, strings and options of them
        serde_json::to_string(self).unwrap()
    }

    /// A report from its JSON line; every field must be there.
    pub fn from_json(line: &str) -> Result<Self, serde_json::Error> {
        serde_json::from_str(line)
    }
}

impl fmt::Display for Report {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let label = if self.label.is_empty() {
            "run"
        } else {
            &self.label
        };
        writeln!(
            f,
            "{label}: {} players in {} game(s) ({} entered, {} failed) x {} moves/s for {} s",
            self.players, self.games, self.entered, self.failed, self.rate, self.duration_s
        )?;
        if let Some(e) = &self.first_error {
            writeln!(f, "  first bot error: {e}")?;
        }
        writeln!(
            f,
            "  moves    {} sent ({:.1}/s), {} published, {} rejected, {} unanswered",
            self.moves_sent,
            self.moves_per_s,
            self.moves_published,
            self.moves_rejected,
            self.moves_unanswered
        )?;
        writeln!(
            f,
            "  frames   {:.0}/s in ({:.2} MB/s), {} in ({} world updates), {} out",
            self.frames_in_per_s,
            self.bytes_in_per_s / 1e6,
            self.frames_in,
            self.world_updates_in,
            self.frames_out
        )?;
        writeln!(
            f,
            "  latency  {:>9} {:>9} {:>9} {:>9}   {:>10} {:>10} {:>8} {:>8}",
            "p50 ms", "p90 ms", "p99 ms", "max ms", "expected", "received", "lost", "late"
        )?;
        let watched = self
            .spectators
            .as_ref()
            .map(|s| ("to watchers", &s.deliveries));
        for (name, d) in [("to mover", &self.to_self), ("to others", &self.to_others)]
            .into_iter()
            .chain(watched)
        {
            let l = &d.latency;
            writeln!(
                f,
                "  {name:<11}{:>7.2} {:>9.2} {:>9.2} {:>9.2}   {:>10} {:>10} {:>8} {:>8}",
                l.p50_ms, l.p90_ms, l.p99_ms, l.max_ms, d.expected, d.received, d.lost, d.late
            )?;
        }
        writeln!(
            f,
            "  other    {} duplicates, {} unparsed, {} server errors, {} server lines, chat {} sent / {} received",
            self.duplicates,
            self.unparsed,
            self.server_errors,
            self.server_lines,
            self.chats_sent,
            self.chats_received
        )?;
        if let Some(s) = &self.spectators {
            writeln!(
                f,
                "  watchers {} spectators ({} briefed, {} failed), {} messages, {} duplicates",
                s.spectators, s.briefed, s.failed, s.messages, s.duplicates
            )?;
            if let Some(e) = &s.first_error {
                writeln!(f, "  first spectator error: {e}")?;
            }
        }
        if self.drops > 0 {
            writeln!(
                f,
                "  drops    {} dropped on purpose, {} resumed, {} briefed again",
                self.drops,
                self.resumed,
                self.drops.saturating_sub(self.resumed)
            )?;
        }
        if let Some(s) = &self.server {
            if let Some(ms) = s.startup_ms {
                writeln!(
                    f,
                    "  server   pid {} answered {ms:.1} ms after spawn",
                    s.pid
                )?;
            }
            writeln!(
                f,
                "  server   cpu {:.0}%, rss {} -> {} -> {} KiB (peak {}), {:.1} KiB per player",
                s.cpu_percent,
                s.rss_before_kb,
                s.rss_connected_kb,
                s.rss_end_kb,
                s.hwm_kb,
                s.kb_per_player
            )?;
        }
        if let Some(h) = &self.hostile {
            writeln!(
                f,
                "  spam     {} spammers: {} frames, {} error frames back, {} sockets closed, {} handshakes refused",
                h.spammers, h.spam_frames, h.spam_errors, h.spam_closed, h.spam_refused
            )?;
            writeln!(
                f,
                "  garbage  {} frames, {} sockets closed; thefts {} tried, {} refused, {} let in",
                h.garbage_frames,
                h.garbage_closed,
                h.thefts_tried,
                h.thefts_refused,
                h.thefts_let_in
            )?;
            writeln!(
                f,
                "  slow     {} half handshakes, {} cut (longest kept {} ms)",
                h.slow_opened, h.slow_cut, h.slow_longest_ms
            )?;
            writeln!(
                f,
                "  floods   2 x {} idle sockets ({} and {} opened): rss {} -> {} -> {} -> {} -> {} KiB (before, held, after, held, after)",
                h.flood_sockets,
                h.flood_opened[0],
                h.flood_opened[1],
                h.rss_before_floods_kb,
                h.rss_during_floods_kb[0],
                h.rss_after_floods_kb[0],
                h.rss_during_floods_kb[1],
                h.rss_after_floods_kb[1]
            )?;
        }
        write!(
            f,
            "  loadgen  cpu {:.0}%; whole machine {:.0}%",
            self.loadgen_cpu_percent, self.machine_cpu_percent
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_report_reads_back_as_it_was_written() {
        let report = Report {
            label: "steady".into(),
            players: 3,
            to_others: Deliveries {
                lost: 2,
                latency: Summary {
                    p99_ms: 1.5,
                    ..Summary::default()
                },
                ..Deliveries::default()
            },
            server: Some(ServerFigures {
                pid: 7,
                ..ServerFigures::default()
            }),
            ..Report::default()
        };
        let back = Report::from_json(&report.to_json()).unwrap();
        assert_eq!(back.to_others.lost, 2);
        assert_eq!(back.to_others.latency.p99_ms, 1.5);
        assert_eq!(back.server.map(|s| s.pid), Some(7));
    }

    #[test]
    fn a_missing_or_renamed_field_is_an_error_not_a_zero() {
        let json = Report::default().to_json();
        for field in [
            "\"lost\"",
            "\"server\"",
            "\"first_error\"",
            "\"moves_per_s\"",
        ] {
            let renamed = json.replacen(field, "\"renamed\"", 1);
            let error = Report::from_json(&renamed).unwrap_err().to_string();
            assert!(error.contains("missing field"), "{field}: {error}");
        }
    }
}
