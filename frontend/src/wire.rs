//! The page's JSON, by hand: server frames decoded into [`ServerMessage`] and client
//! frames encoded from [`ClientMessage`], the protocol crate's types, without serde.
//!
//! serde_json and serde's derived code made up a tenth of the page's wasm (27 KB of
//! 270 KB before gzip); these frames are a handful of flat objects, read by the small
//! reader in [`json`]. The tests check both directions against the protocol crate's
//! serde code, which stays the reference (the server uses it).

pub mod history;
mod json;

use protocol::server::{ErrorPayload, ResumedPayload, ScorePayload, StatusPayload, TokenPayload};
use protocol::{
    ChatFrom, ChatLine, ClientMessage, Entering, Geometry, LeavingPayload, ObjectPayload,
    PlayerUpdate, ServerMessage, Uuid,
};

use json::Value;

/// Decodes one server frame; `None` for anything malformed or of a type this client
/// does not know (extensions it may ignore).
#[cfg(test)]
pub fn parse(text: &str) -> Option<ServerMessage> {
    decode(&json::parse(text)?)
}

/// Decodes one message of a socket into its frames, in order: a lone frame, or a batch
/// of the batched world stream (a JSON array of frames). A frame of a batch that does
/// not decode is skipped, as it would be alone.
#[cfg(test)]
pub fn parse_all(text: &str) -> Vec<ServerMessage> {
    parse_numbered(text).into_iter().map(|(m, _)| m).collect()
}

/// [`parse_all`], with each frame's number in its game's stream (`"seq"`, which the
/// batched stream's updates carry, docs/protocol.md; `None` when absent or not a
/// whole number).
pub fn parse_numbered(text: &str) -> Vec<(ServerMessage, Option<u64>)> {
    let numbered = |frame: &Value| {
        let seq = frame.field("seq").ok().flatten().and_then(Value::integer);
        decode(frame).map(|m| (m, seq))
    };
    match json::parse(text) {
        Some(Value::Array(frames)) => frames.iter().filter_map(numbered).collect(),
        Some(frame) => numbered(&frame).into_iter().collect(),
        None => Vec::new(),
    }
}

/// One frame, already read as JSON.
fn decode(frame: &Value) -> Option<ServerMessage> {
    let message_type = frame.field("messageType").ok()??.string()?;
    // the ids are read only by the messages that have them, as the protocol crate does
    let player_id = || required(frame, "playerID", Value::string);
    let player = || player_id()?.parse::<Uuid>().ok();
    let payload = frame.field("payload").ok()??;
    Some(match message_type {
        "geometry" => ServerMessage::Geometry {
            payload: Geometry {
                half_size_x: required(payload, "halfSizeX", Value::integer)?,
                half_size_y: required(payload, "halfSizeY", Value::integer)?,
            },
        },
        "player" => ServerMessage::Player {
            player_id: player()?,
            payload: PlayerUpdate {
                x: optional(payload, "x", Value::integer)?,
                y: optional(payload, "y", Value::integer)?,
                h: defaulted(payload, "h", Value::boolean)?,
                generation: defaulted(payload, "generation", Value::integer)?,
                name: defaulted(payload, "name", text_of)?,
            },
        },
        "brick" => ServerMessage::Brick {
            payload: object(payload)?,
        },
        "food" => ServerMessage::Food {
            food_id: required(frame, "foodID", |v| v.string()?.parse().ok())?,
            payload: object(payload)?,
        },
        "leaving" => ServerMessage::Leaving {
            player_id: player()?,
            payload: LeavingPayload {
                name: required(payload, "name", text_of)?,
            },
        },
        "chat" => ServerMessage::Chat {
            player_id: match player_id()? {
                protocol::SERVER_CHAT_ID => ChatFrom::Server,
                _ => ChatFrom::Player(player()?),
            },
            payload: ChatLine {
                id: defaulted(payload, "id", text_of)?,
                name: defaulted(payload, "name", text_of)?,
                text: required(payload, "text", text_of)?,
            },
        },
        "error" => ServerMessage::Error {
            payload: ErrorPayload {
                reason: required(payload, "reason", text_of)?,
            },
        },
        "status" => ServerMessage::Status {
            payload: StatusPayload {
                bus_ok: required(payload, "bus_ok", Value::boolean)?,
            },
        },
        "score" => ServerMessage::Score {
            player_id: player()?,
            payload: ScorePayload {
                name: required(payload, "name", text_of)?,
                score: required(payload, "score", Value::integer)?,
            },
        },
        "resumed" => ServerMessage::Resumed {
            payload: ResumedPayload {
                after: required(payload, "after", Value::integer)?,
            },
        },
        "token" => ServerMessage::Token {
            payload: TokenPayload {
                token: required(payload, "token", text_of)?,
            },
        },
        _ => return None,
    })
}

/// The payload of `brick` and `food`.
fn object(payload: &Value) -> Option<ObjectPayload> {
    Some(ObjectPayload {
        x: required(payload, "x", Value::integer)?,
        y: required(payload, "y", Value::integer)?,
        name: required(payload, "name", text_of)?,
    })
}

fn text_of(value: &Value) -> Option<String> {
    value.string().map(str::to_owned)
}

/// A field that must be there and read as `read` says.
fn required<'v, 't, T>(
    object: &'v Value<'t>,
    key: &str,
    read: impl Fn(&'v Value<'t>) -> Option<T>,
) -> Option<T> {
    read(object.field(key).ok()??)
}

/// A field that may be missing or `null` (then `Some(None)`); present, it must read.
/// The outer `None` is an error.
fn optional<'v, 't, T>(
    object: &'v Value<'t>,
    key: &str,
    read: impl Fn(&'v Value<'t>) -> Option<T>,
) -> Option<Option<T>> {
    match object.field(key).ok()? {
        None | Some(Value::Null) => Some(None),
        Some(value) => read(value).map(Some),
    }
}

/// A field that may be missing (then its default); present, it must read.
fn defaulted<'v, 't, T: Default>(
    object: &'v Value<'t>,
    key: &str,
    read: impl Fn(&'v Value<'t>) -> Option<T>,
) -> Option<T> {
    match object.field(key).ok()? {
        None => Some(T::default()),
        Some(value) => read(value),
    }
}

/// Encodes one client frame exactly as the protocol crate's serde code does (same
/// field order, same escapes), so the server sees no difference.
pub fn encode(message: &ClientMessage) -> String {
    let mut out = String::from(r#"{"messageType":"#);
    let kind = match message {
        ClientMessage::Entering { .. } => "entering",
        ClientMessage::Player { .. } => "player",
        ClientMessage::Chat { .. } => "chat",
        ClientMessage::Leaving { .. } => "leaving",
    };
    json::write_string(&mut out, kind);
    out.push_str(r#","payload":{"#);
    match message {
        ClientMessage::Entering { payload } | ClientMessage::Leaving { payload } => {
            let Entering {
                name,
                want_token,
                token,
            } = payload;
            member(&mut out, "name", true);
            json::write_string(&mut out, name);
            if *want_token {
                member(&mut out, "wantToken", false);
                out.push_str("true");
            }
            if let Some(token) = token {
                member(&mut out, "token", false);
                json::write_string(&mut out, token);
            }
        }
        ClientMessage::Player { payload } => {
            let PlayerUpdate {
                x,
                y,
                h,
                generation,
                name,
            } = payload;
            for (key, coordinate, first) in [("x", x, true), ("y", y, false)] {
                member(&mut out, key, first);
                match coordinate {
                    Some(c) => out.push_str(&c.to_string()),
                    None => out.push_str("null"),
                }
            }
            member(&mut out, "h", false);
            out.push_str(if *h { "true" } else { "false" });
            member(&mut out, "generation", false);
            out.push_str(&generation.to_string());
            member(&mut out, "name", false);
            json::write_string(&mut out, name);
        }
        ClientMessage::Chat { payload } => {
            let ChatLine { id, name, text } = payload;
            for (key, value, first) in [
                ("id", id, true),
                ("name", name, false),
                ("text", text, false),
            ] {
                member(&mut out, key, first);
                json::write_string(&mut out, value);
            }
        }
    }
    out.push_str("}}");
    out
}

/// Starts the member `key` of an object: a comma unless it is the `first`, the key, a colon.
fn member(out: &mut String, key: &str, first: bool) {
    if !first {
        out.push(',');
    }
    json::write_string(out, key);
    out.push(':');
}

#[cfg(test)]
mod tests {
    use super::*;

    const PLAYER: &str = "6f1a4a5e-0000-4000-8000-000000000001";

    #[test]
    fn decodes_every_frame_as_the_protocol_crate_does() {
        for frame in [
            r#"{"messageType":"geometry","payload":{"halfSizeX":20,"halfSizeY":12}}"#.to_string(),
            format!(r#"{{"messageType":"player","playerID":"{PLAYER}","payload":{{"x":1,"y":2,"h":true,"generation":3,"name":"Ana"}}}}"#),
            format!(r#"{{"messageType":"player","playerID":"{PLAYER}","payload":{{"x":null,"y":null,"h":false,"generation":0,"name":"Ana"}}}}"#),
            r#"{"messageType":"brick","payload":{"x":4,"y":5,"name":"brick_0000"}}"#.to_string(),
            r#"{"payload":{"x":6,"y":7,"name":"food_0002"},"foodID":"6f1a4a5e-0000-4000-8000-0000000000f0","messageType":"food"}"#.to_string(),
            format!(r#"{{"messageType":"leaving","playerID":"{PLAYER}","payload":{{"name":"Ana"}}}}"#),
            format!(r#"{{"messageType":"chat","playerID":"{PLAYER}","payload":{{"id":"c1","name":"Ana","text":"hi"}}}}"#),
            r#"{"messageType":"chat","playerID":"_api_server_","payload":{"id":"s","name":"** API **","text":"Good catch!"}}"#.to_string(),
            r#"{"messageType":"error","payload":{"reason":"enter the game before moving"}}"#.to_string(),
            r#"{"messageType":"status","payload":{"bus_ok":false}}"#.to_string(),
            r#"{"messageType":"brick","playerID":7,"payload":{"x":4,"y":5,"name":"b"}}"#.to_string(),
            format!(r#"{{"messageType":"score","playerID":"{PLAYER}","payload":{{"name":"Ana","score":4}}}}"#),
            r#"{"messageType":"token","payload":{"token":"0f3c"}}"#.to_string(),
            r#"{"messageType":"resumed","payload":{"after":1796812345678000}}"#.to_string(),
            // spacing, escapes, extra fields, defaults and nulls, numbers at their limits
            format!(" {{ \"messageType\" : \"chat\" ,\n\"playerID\":\"{PLAYER}\", \"payload\" : {{\"text\":\"\\\"hi\\\" \\u00e9 \\ud83d\\udd77\\n\",\"extra\":[1,{{\"a\":null}}]}} }} "),
            format!(r#"{{"messageType":"player","playerID":"{PLAYER}","payload":{{}}}}"#),
            format!(r#"{{"messageType":"player","playerID":"{PLAYER}","foodID":null,"payload":{{"x":-2147483648,"y":2147483647,"name":"\/"}}}}"#),
            format!(r#"{{"messageType":"score","playerID":"{PLAYER}","payload":{{"name":"Ana","score":4294967295}},"later":true}}"#),
        ] {
            let expected = ServerMessage::parse(&frame).expect("the protocol crate decodes it");
            assert_eq!(parse(&frame), Some(expected), "{frame}");
        }
    }

    #[test]
    fn malformed_and_unknown_frames_are_none() {
        for frame in [
            "",
            "not json",
            r#"{"messageType":"teleport","payload":{}}"#,
            r#"{"messageType":"player","payload":{"x":1,"y":1,"h":false,"generation":0,"name":"a"}}"#,
            r#"{"messageType":"player","playerID":"not-a-uuid","payload":{"x":1,"y":1}}"#,
            r#"{"messageType":"brick","payload":{"x":"four","y":5,"name":"b"}}"#,
            r#"{"messageType":"brick","payload":{"x":4.0,"y":5,"name":"b"}}"#,
            r#"{"messageType":"brick","payload":{"x":4,"y":5}}"#,
            r#"{"messageType":"brick","payload":{"x":4,"x":4,"y":5,"name":"b"}}"#,
            r#"{"messageType":"brick"}"#,
            r#"{"messageType":"brick","payload":null}"#,
            r#"{"messageType":"food","foodID":"nope","payload":{"x":4,"y":5,"name":"f"}}"#,
            r#"{"messageType":"score","playerID":"6f1a4a5e-0000-4000-8000-000000000001","payload":{"name":"a","score":-1}}"#,
            r#"{"messageType":"status","payload":{"bus_ok":null}}"#,
            r#"{"messageType":"geometry","payload":{"halfSizeX":20,"halfSizeY":12}} trailing"#,
            r#"{"messageType":null,"payload":{}}"#,
            r#"["geometry"]"#,
            r#"{"messageType":"chat","playerID":"_api_server_","payload":{"id":"s","name":"n"}}"#,
        ] {
            assert!(
                ServerMessage::parse(frame).is_err(),
                "serde refuses it too: {frame}"
            );
            assert_eq!(parse(frame), None, "{frame}");
        }
    }

    #[test]
    fn a_batch_decodes_as_its_frames_one_by_one_in_order() {
        let moved = |generation: i32| {
            format!(
                r#"{{"messageType":"player","playerID":"{PLAYER}","payload":{{"x":1,"y":{generation},"h":false,"generation":{generation},"name":"Ana"}}}}"#
            )
        };
        let food = r#"{"messageType":"food","foodID":"6f1a4a5e-0000-4000-8000-0000000000f0","payload":{"x":6,"y":7,"name":"food_0002"}}"#;
        let frames = [moved(3), food.to_string(), moved(4), moved(2)];
        let batch = format!("[{}]", frames.join(","));
        let expected: Vec<ServerMessage> = frames
            .iter()
            .map(|f| ServerMessage::parse(f).unwrap())
            .collect();
        assert_eq!(parse_all(&batch), expected);
        // a lone frame is a batch of one
        assert_eq!(parse_all(&frames[0]), expected[..1]);
        // a frame of a batch that does not decode is skipped, the others kept
        let damaged = format!(
            r#"[{},{{"messageType":"teleport","payload":{{}}}},7,{}]"#,
            moved(3),
            moved(4)
        );
        assert_eq!(
            parse_all(&damaged),
            [expected[0].clone(), expected[2].clone()]
        );
        for broken in ["[", "[]", "", "not json", &format!("[{}", moved(3))] {
            assert_eq!(parse_all(broken), [], "{broken}");
        }
    }

    #[test]
    fn a_batch_s_updates_come_with_their_numbers() {
        let batch = format!(
            r#"[{{"messageType":"resumed","payload":{{"after":41}}}},{{"messageType":"leaving","playerID":"{PLAYER}","payload":{{"name":"Ana"}},"seq":42}},{{"messageType":"leaving","playerID":"{PLAYER}","payload":{{"name":"Ana"}},"seq":"x"}}]"#
        );
        let numbered = parse_numbered(&batch);
        let seqs: Vec<Option<u64>> = numbered.iter().map(|(_, seq)| *seq).collect();
        assert_eq!(seqs, [None, Some(42), None]);
        assert_eq!(
            numbered[0].0,
            ServerMessage::Resumed {
                payload: ResumedPayload { after: 41 }
            }
        );
    }

    #[test]
    fn encodes_every_client_frame_as_the_protocol_crate_does() {
        let tricky = "quote \" backslash \\ line\n tab\t nul\u{0} \u{1f577} é";
        for message in [
            ClientMessage::Entering {
                payload: Entering::named("Ana"),
            },
            ClientMessage::Entering {
                payload: Entering {
                    name: tricky.into(),
                    want_token: true,
                    token: None,
                },
            },
            ClientMessage::Entering {
                payload: Entering {
                    name: String::new(),
                    want_token: false,
                    token: Some("0f3c".into()),
                },
            },
            ClientMessage::Leaving {
                payload: Entering::named("Ana"),
            },
            ClientMessage::Player {
                payload: PlayerUpdate {
                    x: Some(-3),
                    y: Some(i32::MAX),
                    h: true,
                    generation: 42,
                    name: tricky.into(),
                },
            },
            ClientMessage::Player {
                payload: PlayerUpdate {
                    x: None,
                    y: None,
                    h: false,
                    generation: i32::MIN,
                    name: String::new(),
                },
            },
            ClientMessage::Chat {
                payload: ChatLine {
                    id: "c1".into(),
                    name: "Ana".into(),
                    text: tricky.into(),
                },
            },
        ] {
            assert_eq!(encode(&message), message.to_json());
        }
    }
}
