//! Client-to-server frames, sent on the player socket.
//!
//! A `playerID` written into any of these frames is ignored on purpose: the server
//! stamps the id of the socket the frame arrived on.

use serde::{Deserialize, Serialize};

/// One frame from a client.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "messageType")]
pub enum ClientMessage {
    /// "I join (or re-join) the game under this name; brief me."
    #[serde(rename = "entering")]
    Entering { payload: Entering },
    /// "I want to be here": a move request, validated by the server.
    #[serde(rename = "player")]
    Player { payload: PlayerUpdate },
    /// A chat line for everyone.
    #[serde(rename = "chat")]
    Chat { payload: ChatLine },
    /// "I leave the game."
    #[serde(rename = "leaving")]
    Leaving { payload: Entering },
}

impl ClientMessage {
    /// Parses one text frame; the error says what was wrong, in terms a client author
    /// can act on.
    pub fn parse(text: &str) -> Result<Self, serde_json::Error> {
        serde_json::from_str(text)
    }

    pub fn to_json(&self) -> String {
        // unwrap: these types hold only strings, numbers and booleans, which always serialize
        serde_json::to_string(self).unwrap()
    }
}

/// The payload of `entering` and `leaving`: the player's name, and on `entering` the
/// resume-token extension (see docs/protocol.md), which old clients never send.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Entering {
    /// The name shown beside the player's spider.
    #[serde(default)]
    pub name: String,
    /// Extension: asks the server to bind a resume token to this player id, on the id's
    /// first entering; the server answers with a `token` frame.
    #[serde(default, rename = "wantToken", skip_serializing_if = "is_false")]
    pub want_token: bool,
    /// Extension: the resume token the server gave this player id, presented when
    /// entering again (after a reconnect).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub token: Option<String>,
}

impl Entering {
    /// A plain payload, as reference clients send it.
    pub fn named(name: impl Into<String>) -> Self {
        Entering {
            name: name.into(),
            ..Entering::default()
        }
    }
}

fn is_false(b: &bool) -> bool {
    !b
}

/// A player's position and looks, as requested by a client and as published by the
/// server once validated.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PlayerUpdate {
    /// Column; `null` only during a client's start-up, before it knows its position.
    #[serde(default)]
    pub x: Option<i32>,
    /// Row; `null` like `x`.
    #[serde(default)]
    pub y: Option<i32>,
    /// Whether hearts are shown over the spider.
    #[serde(default)]
    pub h: bool,
    /// The client's move counter, echoed back so it can discard stale updates.
    #[serde(default)]
    pub generation: i32,
    /// The player's name, repeated in every update.
    #[serde(default)]
    pub name: String,
}

/// A chat line, as sent by a client and as published by the server.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChatLine {
    /// A client-drawn UUID, so clients can tell lines apart.
    #[serde(default)]
    pub id: String,
    /// The speaker's name.
    #[serde(default)]
    pub name: String,
    /// What was said.
    pub text: String,
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::{json, Value};

    /// Decodes a literal frame of protocol.md, checks the decoded value, and checks that
    /// re-encoding gives the same JSON.
    fn check(frame: Value, expected: ClientMessage) {
        let decoded = ClientMessage::parse(&frame.to_string()).expect("frame decodes");
        assert_eq!(decoded, expected);
        let reencoded: Value = serde_json::from_str(&decoded.to_json()).unwrap();
        assert_eq!(reencoded, frame);
    }

    #[test]
    fn entering_decodes_and_reencodes() {
        check(
            json!({"messageType": "entering", "payload": {"name": "Zygiella"}}),
            ClientMessage::Entering {
                payload: Entering::named("Zygiella"),
            },
        );
    }

    #[test]
    fn entering_with_the_resume_token_extension_decodes_and_reencodes() {
        check(
            json!({"messageType": "entering", "payload": {"name": "Ana", "wantToken": true}}),
            ClientMessage::Entering {
                payload: Entering {
                    name: "Ana".into(),
                    want_token: true,
                    token: None,
                },
            },
        );
        check(
            json!({"messageType": "entering", "payload": {"name": "Ana", "token": "0f3c"}}),
            ClientMessage::Entering {
                payload: Entering {
                    name: "Ana".into(),
                    want_token: false,
                    token: Some("0f3c".into()),
                },
            },
        );
    }

    #[test]
    fn player_move_decodes_and_reencodes() {
        check(
            json!({"messageType": "player",
                   "payload": {"x": 3, "y": 4, "h": true, "generation": 7, "name": "Ana"}}),
            ClientMessage::Player {
                payload: PlayerUpdate {
                    x: Some(3),
                    y: Some(4),
                    h: true,
                    generation: 7,
                    name: "Ana".into(),
                },
            },
        );
    }

    #[test]
    fn player_move_with_null_position_decodes() {
        check(
            json!({"messageType": "player",
                   "payload": {"x": null, "y": null, "h": false, "generation": 0, "name": "Ana"}}),
            ClientMessage::Player {
                payload: PlayerUpdate {
                    x: None,
                    y: None,
                    h: false,
                    generation: 0,
                    name: "Ana".into(),
                },
            },
        );
    }

    #[test]
    fn chat_and_leaving_decode_and_reencode() {
        check(
            json!({"messageType": "chat", "payload": {"id": "c1", "name": "Ana", "text": "hi"}}),
            ClientMessage::Chat {
                payload: ChatLine {
                    id: "c1".into(),
                    name: "Ana".into(),
                    text: "hi".into(),
                },
            },
        );
        check(
            json!({"messageType": "leaving", "payload": {"name": "Ana"}}),
            ClientMessage::Leaving {
                payload: Entering::named("Ana"),
            },
        );
    }

    #[test]
    fn a_player_id_inside_a_frame_is_not_part_of_the_message() {
        let frame = json!({"messageType": "chat", "playerID": "someone-else",
                           "payload": {"id": "c1", "name": "Ana", "text": "hi"}});
        let decoded = ClientMessage::parse(&frame.to_string()).unwrap();
        assert!(!decoded.to_json().contains("someone-else"));
    }

    #[test]
    fn bad_frames_are_errors_not_panics() {
        for bad in [
            "",
            "not json",
            "[]",
            r#"{"messageType": "teleport", "payload": {}}"#,
            r#"{"payload": {"name": "x"}}"#,
            r#"{"messageType": "player", "payload": {"x": "three", "y": 1}}"#,
            r#"{"messageType": "player", "payload": {"x": 99999999999, "y": 1}}"#,
            r#"{"messageType": "chat", "payload": {"name": "x"}}"#,
        ] {
            assert!(ClientMessage::parse(bad).is_err(), "{bad} should not parse");
        }
    }
}
