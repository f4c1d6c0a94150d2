//! A game's history as the HTTP API gives it (docs/protocol.md, "History"): JSON Lines of
//! records, each an update (one world frame) or a snapshot (the frames a newly watching
//! client is briefed with), numbered `seq` and timed `t`; and the span of the history.

use protocol::ServerMessage;

use super::json::{self, Value};
use super::{decode, required};

/// One line of a history: what happened at time `t` as update number `seq`.
#[derive(Clone, Debug, PartialEq)]
pub struct Record {
    /// The update's number in its game's stream; a snapshot's is the last update it
    /// includes.
    pub seq: u64,
    /// When, in milliseconds since the Unix epoch.
    pub t: i64,
    pub body: Body,
}

#[derive(Clone, Debug, PartialEq)]
pub enum Body {
    /// One world frame, as a world socket sent it.
    Update(ServerMessage),
    /// The whole game at that point: the frames of a brief, then the last chat lines.
    Snapshot(Vec<ServerMessage>),
}

/// A history's records, in the order given, and how many lines could not be read
/// (malformed, or of a kind this page does not know): skipped, never fatal. A frame of
/// a snapshot that does not decode is left out of it and counted too.
pub fn parse_lines(text: &str) -> (Vec<Record>, u32) {
    let mut skipped = 0;
    let mut records = Vec::new();
    for line in text.lines().filter(|l| !l.trim().is_empty()) {
        match parse_line(line, &mut skipped) {
            Some(record) => records.push(record),
            None => skipped += 1,
        }
    }
    (records, skipped)
}

/// One record; frames of a snapshot that do not decode are counted in `skipped`.
fn parse_line(line: &str, skipped: &mut u32) -> Option<Record> {
    let value = json::parse(line)?;
    let seq = required(&value, "seq", Value::integer)?;
    let t = required(&value, "t", Value::integer)?;
    let body = match (value.field("frame").ok()?, value.field("snapshot").ok()?) {
        (Some(frame), None) => Body::Update(decode(frame)?),
        (None, Some(Value::Array(frames))) => {
            let decoded: Vec<ServerMessage> = frames.iter().filter_map(decode).collect();
            *skipped += (frames.len() - decoded.len()) as u32;
            Body::Snapshot(decoded)
        }
        _ => return None,
    };
    Some(Record { seq, t, body })
}

/// The times a game's history spans (`GET /api/games/{id}/history/span`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Span {
    /// The first and the last kept record's time (ms since the epoch); `None` while
    /// nothing is kept.
    pub first_last: Option<(i64, i64)>,
    /// Whether the game is being played: its history still grows.
    pub live: bool,
}

/// The span's JSON; `None` if malformed.
pub fn parse_span(text: &str) -> Option<Span> {
    let value = json::parse(text)?;
    let time = |key| match value.field(key).ok()? {
        None | Some(Value::Null) => Some(None),
        Some(v) => v.integer::<i64>().map(Some),
    };
    let first_last = match (time("first")?, time("last")?) {
        (Some(first), Some(last)) if first <= last => Some((first, last)),
        (None, None) => None,
        _ => return None,
    };
    Some(Span {
        first_last,
        live: required(&value, "live", Value::boolean)?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const PLAYER: &str = "6f1a4a5e-0000-4000-8000-000000000001";

    fn moved(x: i32) -> String {
        format!(
            r#"{{"messageType":"player","playerID":"{PLAYER}","payload":{{"x":{x},"y":2,"h":false,"generation":0,"name":"Ana"}}}}"#
        )
    }

    #[test]
    fn reads_updates_and_snapshots_in_order() {
        let geometry = r#"{"messageType":"geometry","payload":{"halfSizeX":20,"halfSizeY":12}}"#;
        let text = format!(
            "{{\"seq\":7,\"t\":1000,\"snapshot\":[{geometry},{}]}}\n{{\"t\":1500,\"seq\":8,\"frame\":{}}}\n",
            moved(1),
            moved(2)
        );
        let (records, skipped) = parse_lines(&text);
        assert_eq!(skipped, 0);
        let expected = |f: &str| ServerMessage::parse(f).unwrap();
        assert_eq!(
            records,
            [
                Record {
                    seq: 7,
                    t: 1000,
                    body: Body::Snapshot(vec![expected(geometry), expected(&moved(1))]),
                },
                Record {
                    seq: 8,
                    t: 1500,
                    body: Body::Update(expected(&moved(2))),
                },
            ]
        );
    }

    #[test]
    fn lines_that_do_not_read_are_counted_and_skipped() {
        let good = format!(r#"{{"seq":8,"t":1500,"frame":{}}}"#, moved(2));
        let text = [
            good.as_str(),
            "not json",
            r#"{"seq":9,"t":1600}"#,
            &format!(r#"{{"seq":-1,"t":1600,"frame":{}}}"#, moved(3)),
            &format!(r#"{{"seq":9,"t":"later","frame":{}}}"#, moved(3)),
            &format!(r#"{{"seq":9,"t":1600,"frame":{},"snapshot":[]}}"#, moved(3)),
            r#"{"seq":9,"t":1600,"frame":{"messageType":"teleport","payload":{}}}"#,
            r#"{"seq":9,"t":1600,"snapshot":{}}"#,
            &format!(r#"{{"seq":10,"t":1700,"snapshot":[{},7]}}"#, moved(4)),
            &format!("{{\"seq\":11,\"t\":1800,\"frame\":{}", moved(5)),
            "",
            "   ",
        ]
        .join("\n");
        let (records, skipped) = parse_lines(&text);
        let seqs: Vec<u64> = records.iter().map(|r| r.seq).collect();
        assert_eq!(
            seqs,
            [8, 10],
            "the good line and the snapshot with one bad frame"
        );
        assert_eq!(
            skipped, 9,
            "8 bad lines and one bad frame; blank lines are not counted"
        );
    }

    #[test]
    fn the_span_reads_both_times_or_none() {
        assert_eq!(
            parse_span(r#"{"game":"g","first":1000,"last":5000,"live":true}"#),
            Some(Span {
                first_last: Some((1000, 5000)),
                live: true
            })
        );
        assert_eq!(
            parse_span(r#"{"game":"g","first":null,"last":null,"live":false}"#),
            Some(Span {
                first_last: None,
                live: false
            })
        );
        for bad in [
            r#"{"first":1000,"last":null,"live":false}"#,
            r#"{"first":5000,"last":1000,"live":false}"#,
            r#"{"first":1000,"last":5000}"#,
            r#"{"first":"x","last":5000,"live":false}"#,
            "",
        ] {
            assert_eq!(parse_span(bad), None, "{bad}");
        }
    }
}
