//! One record of a game's history, as the stores keep it and the history API writes it
//! (docs/protocol.md, "History"): an update (one world frame) or a snapshot (the
//! game's whole state as the frames of a brief, then its last chat lines).
//!
//! A record's line is `{"seq":S,"t":T,"frame":F}` or `{"seq":S,"t":T,"snapshot":[F,...]}`,
//! written by [`HistoryRecord::line`] from the frames' own JSON (never parsed again);
//! [`HistoryRecord::parse_line`] reads a line of exactly that shape back (the embedded
//! store keeps the lines as they are).

use bytestring::ByteString;

/// A history partition's time span: records are kept in buckets of this many
/// milliseconds of `t` (Cassandra: the partition key is the game and the bucket; the
/// embedded store: a file per game and bucket). A minute of a busy game (100 players x 2
/// moves/s) is 12,000 records, about 1.5 MB.
pub const HISTORY_BUCKET_MS: i64 = 60_000;

/// How far a record's time may run behind one before it in a game's order (`seq`):
/// the room stamps `t` with its own wall clock, and a cluster's take-over moves the
/// game to another instance's clock. A read of the updates up to `to` stops at the
/// first record later than `to` by more than this (rather than reading the rest of
/// the minute).
pub const CLOCK_SKEW_MS: i64 = 5_000;

/// The bucket of a record written at `t`.
pub fn bucket_of(t: i64) -> i64 {
    t.div_euclid(HISTORY_BUCKET_MS)
}

/// One record of a game's history.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HistoryRecord {
    /// The update's number in the game's stream; a snapshot's is that of the last
    /// update it includes.
    pub seq: u64,
    /// When it was written, in milliseconds since the Unix epoch.
    pub t: i64,
    /// A snapshot (else an update).
    pub snapshot: bool,
    /// The JSON of the update's frame, or of the snapshot's array of frames.
    pub body: ByteString,
}

impl HistoryRecord {
    /// An update: one world frame's JSON.
    pub fn update(seq: u64, t: i64, frame: ByteString) -> Self {
        HistoryRecord {
            seq,
            t,
            snapshot: false,
            body: frame,
        }
    }

    /// A snapshot: the JSON of each frame, in order.
    pub fn snapshot<'a>(seq: u64, t: i64, frames: impl IntoIterator<Item = &'a str>) -> Self {
        let mut body = String::from("[");
        for (i, frame) in frames.into_iter().enumerate() {
            if i > 0 {
                body.push(',');
            }
            body.push_str(frame);
        }
        body.push(']');
        HistoryRecord {
            seq,
            t,
            snapshot: true,
            body: body.into(),
        }
    }

    /// The record as one line of JSON, without its newline.
    pub fn line(&self) -> String {
        let key = if self.snapshot { "snapshot" } else { "frame" };
        format!(
            "{{\"seq\":{},\"t\":{},\"{key}\":{}}}",
            self.seq, self.t, self.body
        )
    }

    /// Reads back a line written by [`HistoryRecord::line`] (without its newline);
    /// `None` for anything else.
    pub fn parse_line(line: &str) -> Option<Self> {
        let rest = line.strip_prefix("{\"seq\":")?;
        let (seq, rest) = rest.split_once(",\"t\":")?;
        let (t, rest) = rest.split_once(",\"")?;
        let (snapshot, body) = if let Some(body) = rest.strip_prefix("snapshot\":") {
            (true, body)
        } else {
            (false, rest.strip_prefix("frame\":")?)
        };
        let body = body.strip_suffix('}')?;
        Some(HistoryRecord {
            seq: seq.parse().ok()?,
            t: t.parse().ok()?,
            snapshot,
            body: body.into(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_line_reads_back_as_its_record() {
        let update = HistoryRecord::update(
            7,
            1_700_000_000_123,
            r#"{"type":"chat","x":{"a":"}"}}"#.into(),
        );
        let line = update.line();
        assert_eq!(
            line,
            r#"{"seq":7,"t":1700000000123,"frame":{"type":"chat","x":{"a":"}"}}}"#
        );
        assert_eq!(HistoryRecord::parse_line(&line), Some(update));
        let snapshot = HistoryRecord::snapshot(9, -5, [r#"{"a":1}"#, r#"{"b":2}"#]);
        assert_eq!(
            snapshot.line(),
            r#"{"seq":9,"t":-5,"snapshot":[{"a":1},{"b":2}]}"#
        );
        assert_eq!(HistoryRecord::parse_line(&snapshot.line()), Some(snapshot));
        // every line is JSON
        let parsed: serde_json::Value = serde_json::from_str(&line).unwrap();
        assert_eq!(parsed["frame"]["x"]["a"], "}");
    }

    #[test]
    fn anything_else_is_no_record() {
        for bad in [
            "",
            "{}",
            r#"{"seq":x,"t":1,"frame":{}}"#,
            r#"{"seq":1,"t":1,"other":{}}"#,
        ] {
            assert_eq!(HistoryRecord::parse_line(bad), None, "{bad}");
        }
    }

    #[test]
    fn buckets_are_minutes_also_before_1970() {
        assert_eq!(bucket_of(0), 0);
        assert_eq!(bucket_of(59_999), 0);
        assert_eq!(bucket_of(60_000), 1);
        assert_eq!(bucket_of(-1), -1);
    }
}
