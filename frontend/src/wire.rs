//! Decoding server frames into [`ServerMessage`], the protocol crate's type, in a way
//! that costs the wasm bundle less.
//!
//! `ServerMessage` is an internally tagged serde enum; its derived decoder buffers every
//! frame into serde's generic `Content` tree first, which alone compiled to some 25 KB of
//! wasm. Here the tag and ids are read first, then the payload straight into its
//! protocol type: two passes over a frame of a hundred bytes, and a smaller page. The
//! tests check that both decoders agree.

use protocol::server::{ErrorPayload, ScorePayload, StatusPayload, TokenPayload};
use protocol::{
    ChatFrom, ChatLine, Geometry, LeavingPayload, ObjectPayload, PlayerUpdate, ServerMessage, Uuid,
};
use serde::de::DeserializeOwned;
use serde::Deserialize;

/// The top-level fields of a frame, the payload skipped.
#[derive(Deserialize)]
struct Envelope {
    /// Which message this is.
    #[serde(rename = "messageType")]
    message_type: String,
    /// Whose message (player, leaving and chat frames).
    #[serde(rename = "playerID")]
    player_id: Option<String>,
    /// Which food item (food frames).
    #[serde(rename = "foodID")]
    food_id: Option<Uuid>,
}

/// The payload, decoded as `T`.
#[derive(Deserialize)]
struct Payload<T> {
    /// The message's body.
    payload: T,
}

/// Decodes one server frame; `None` for anything malformed or of a type this client
/// does not know (extensions it may ignore).
pub fn parse(text: &str) -> Option<ServerMessage> {
    let envelope: Envelope = serde_json::from_str(text).ok()?;
    let player = || envelope.player_id.as_deref()?.parse::<Uuid>().ok();
    Some(match envelope.message_type.as_str() {
        "geometry" => ServerMessage::Geometry {
            payload: payload::<Geometry>(text)?,
        },
        "player" => ServerMessage::Player {
            player_id: player()?,
            payload: payload::<PlayerUpdate>(text)?,
        },
        "brick" => ServerMessage::Brick {
            payload: payload::<ObjectPayload>(text)?,
        },
        "food" => ServerMessage::Food {
            food_id: envelope.food_id?,
            payload: payload::<ObjectPayload>(text)?,
        },
        "leaving" => ServerMessage::Leaving {
            player_id: player()?,
            payload: payload::<LeavingPayload>(text)?,
        },
        "chat" => ServerMessage::Chat {
            player_id: match envelope.player_id.as_deref()? {
                protocol::SERVER_CHAT_ID => ChatFrom::Server,
                _ => ChatFrom::Player(player()?),
            },
            payload: payload::<ChatLine>(text)?,
        },
        "error" => ServerMessage::Error {
            payload: payload::<ErrorPayload>(text)?,
        },
        "status" => ServerMessage::Status {
            payload: payload::<StatusPayload>(text)?,
        },
        "score" => ServerMessage::Score {
            player_id: player()?,
            payload: payload::<ScorePayload>(text)?,
        },
        "token" => ServerMessage::Token {
            payload: payload::<TokenPayload>(text)?,
        },
        _ => return None,
    })
}

fn payload<T: DeserializeOwned>(text: &str) -> Option<T> {
    serde_json::from_str::<Payload<T>>(text)
        .ok()
        .map(|p| p.payload)
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
            format!(r#"{{"messageType":"score","playerID":"{PLAYER}","payload":{{"name":"Ana","score":4}}}}"#),
            r#"{"messageType":"token","payload":{"token":"0f3c"}}"#.to_string(),
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
        ] {
            assert_eq!(parse(frame), None, "{frame}");
        }
    }
}
