//! Server-to-client frames, on the player socket (direct replies) and the world socket
//! (everything published on the bus).

use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::client::{ChatLine, PlayerUpdate};

/// The `playerID` of chat lines the server itself writes.
pub const SERVER_CHAT_ID: &str = "_api_server_";
/// The name on chat lines the server itself writes.
pub const SERVER_CHAT_NAME: &str = "** API **";

/// One frame from the server.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "messageType")]
pub enum ServerMessage {
    /// The board's size; first frame of every brief.
    #[serde(rename = "geometry")]
    Geometry { payload: Geometry },
    /// A player's validated position (or the snap-back answer to a rejected move).
    #[serde(rename = "player")]
    Player {
        #[serde(rename = "playerID")]
        player_id: Uuid,
        payload: PlayerUpdate,
    },
    /// A brick; bricks never move, so they appear only in briefs.
    #[serde(rename = "brick")]
    Brick { payload: ObjectPayload },
    /// A food item, in a brief or when it moved after a catch.
    #[serde(rename = "food")]
    Food {
        #[serde(rename = "foodID")]
        food_id: Uuid,
        payload: ObjectPayload,
    },
    /// A player left the game.
    #[serde(rename = "leaving")]
    Leaving {
        #[serde(rename = "playerID")]
        player_id: Uuid,
        payload: LeavingPayload,
    },
    /// A chat line: from a player (world socket) or from the server (player socket).
    #[serde(rename = "chat")]
    Chat {
        #[serde(rename = "playerID")]
        player_id: ChatFrom,
        payload: ChatLine,
    },
    /// Extension: why the server rejected a frame. Reference clients ignore it.
    #[serde(rename = "error")]
    Error { payload: ErrorPayload },
    /// Extension: the resume token bound to this player id, on the player socket, in
    /// answer to an `entering` that asked for one (`wantToken`). Reference clients never
    /// ask.
    #[serde(rename = "token")]
    Token { payload: TokenPayload },
    /// Extension: the server's view of the world bus, so a client can tell its player
    /// that updates are delayed. Reference clients ignore it.
    #[serde(rename = "status")]
    Status { payload: StatusPayload },
    /// Extension: the first element of the first batch of a batched world stream that
    /// resumes where its client's last stream broke (docs/protocol.md, "Resuming the
    /// world stream"): the updates after `after` follow, and no brief comes. Only
    /// clients that ask (`?after=`) ever get it.
    #[serde(rename = "resumed")]
    Resumed { payload: ResumedPayload },
    /// Extension: how much food a player has caught in this game, on every catch (world
    /// socket) and for the top scorers in a brief (player socket). Reference clients
    /// ignore it.
    #[serde(rename = "score")]
    Score {
        #[serde(rename = "playerID")]
        player_id: Uuid,
        payload: ScorePayload,
    },
}

impl ServerMessage {
    pub fn to_json(&self) -> String {
        // unwrap: these types hold only strings, numbers and booleans, which always serialize
        serde_json::to_string(self).unwrap()
    }

    pub fn parse(text: &str) -> Result<Self, serde_json::Error> {
        serde_json::from_str(text)
    }

    /// A chat line written by the server itself.
    pub fn server_chat(id: impl Into<String>, text: impl Into<String>) -> Self {
        ServerMessage::Chat {
            player_id: ChatFrom::Server,
            payload: ChatLine {
                id: id.into(),
                name: SERVER_CHAT_NAME.into(),
                text: text.into(),
            },
        }
    }
}

/// Who wrote a chat line: a player, or the server (`_api_server_` on the wire).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ChatFrom {
    Player(Uuid),
    Server,
}

impl Serialize for ChatFrom {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            ChatFrom::Player(id) => id.serialize(s),
            ChatFrom::Server => s.serialize_str(SERVER_CHAT_ID),
        }
    }
}

impl<'de> Deserialize<'de> for ChatFrom {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let text = String::deserialize(d)?;
        if text == SERVER_CHAT_ID {
            return Ok(ChatFrom::Server);
        }
        text.parse()
            .map(ChatFrom::Player)
            .map_err(serde::de::Error::custom)
    }
}

/// The payload of `geometry`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Geometry {
    /// See [`crate::Board::half_x`].
    pub half_size_x: i32,
    /// See [`crate::Board::half_y`].
    pub half_size_y: i32,
}

impl From<crate::Board> for Geometry {
    fn from(b: crate::Board) -> Self {
        Geometry {
            half_size_x: b.half_x,
            half_size_y: b.half_y,
        }
    }
}

impl From<Geometry> for crate::Board {
    fn from(g: Geometry) -> Self {
        crate::Board {
            half_x: g.half_size_x,
            half_y: g.half_size_y,
        }
    }
}

/// The payload of `brick` and `food`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ObjectPayload {
    pub x: i32,
    pub y: i32,
    /// `brick_0000`, `food_0001`, ...
    pub name: String,
}

/// The payload of the server's `leaving`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct LeavingPayload {
    pub name: String,
}

/// The payload of the `error` extension.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ErrorPayload {
    /// Human-readable, lower case: what was wrong with the frame.
    pub reason: String,
}

/// The payload of the `token` extension.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct TokenPayload {
    /// A secret: whoever presents it may enter under the player id it is bound to.
    pub token: String,
}

/// The payload of the `status` extension.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct StatusPayload {
    /// False while world updates cannot be delivered (for instance the broker is away);
    /// moves are still validated meanwhile.
    pub bus_ok: bool,
}

/// The payload of the `resumed` extension.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ResumedPayload {
    /// The number of the last update the client saw, as it named it: the updates
    /// after it follow.
    pub after: u64,
}

/// The payload of the `score` extension.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ScorePayload {
    /// The player's name when it last caught food.
    pub name: String,
    /// Food caught in this game so far.
    pub score: u32,
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::{json, Value};

    const PLAYER: &str = "6f1a4a5e-0000-4000-8000-000000000001";
    const FOOD: &str = "6f1a4a5e-0000-4000-8000-0000000000f0";

    fn check(frame: Value, expected: ServerMessage) {
        let decoded = ServerMessage::parse(&frame.to_string()).expect("frame decodes");
        assert_eq!(decoded, expected);
        let reencoded: Value = serde_json::from_str(&decoded.to_json()).unwrap();
        assert_eq!(reencoded, frame);
    }

    #[test]
    fn geometry_frame() {
        check(
            json!({"messageType": "geometry", "payload": {"halfSizeX": 20, "halfSizeY": 12}}),
            ServerMessage::Geometry {
                payload: crate::Board::STANDARD.into(),
            },
        );
    }

    #[test]
    fn player_frame_carries_the_player_id_at_top_level() {
        check(
            json!({"messageType": "player", "playerID": PLAYER,
                   "payload": {"x": 1, "y": 2, "h": false, "generation": 3, "name": "Ana"}}),
            ServerMessage::Player {
                player_id: PLAYER.parse().unwrap(),
                payload: PlayerUpdate {
                    x: Some(1),
                    y: Some(2),
                    h: false,
                    generation: 3,
                    name: "Ana".into(),
                },
            },
        );
    }

    #[test]
    fn brick_and_food_frames() {
        check(
            json!({"messageType": "brick", "payload": {"x": 4, "y": 5, "name": "brick_0000"}}),
            ServerMessage::Brick {
                payload: ObjectPayload {
                    x: 4,
                    y: 5,
                    name: "brick_0000".into(),
                },
            },
        );
        check(
            json!({"messageType": "food", "foodID": FOOD,
                   "payload": {"x": 6, "y": 7, "name": "food_0002"}}),
            ServerMessage::Food {
                food_id: FOOD.parse().unwrap(),
                payload: ObjectPayload {
                    x: 6,
                    y: 7,
                    name: "food_0002".into(),
                },
            },
        );
    }

    #[test]
    fn leaving_frame() {
        check(
            json!({"messageType": "leaving", "playerID": PLAYER, "payload": {"name": "Ana"}}),
            ServerMessage::Leaving {
                player_id: PLAYER.parse().unwrap(),
                payload: LeavingPayload { name: "Ana".into() },
            },
        );
    }

    #[test]
    fn chat_frames_from_a_player_and_from_the_server() {
        check(
            json!({"messageType": "chat", "playerID": PLAYER,
                   "payload": {"id": "c1", "name": "Ana", "text": "hello"}}),
            ServerMessage::Chat {
                player_id: ChatFrom::Player(PLAYER.parse().unwrap()),
                payload: ChatLine {
                    id: "c1".into(),
                    name: "Ana".into(),
                    text: "hello".into(),
                },
            },
        );
        check(
            json!({"messageType": "chat", "playerID": "_api_server_",
                   "payload": {"id": "s1", "name": "** API **", "text": "Good catch!"}}),
            ServerMessage::server_chat("s1", "Good catch!"),
        );
    }

    #[test]
    fn extension_frames() {
        check(
            json!({"messageType": "error", "payload": {"reason": "unknown messageType"}}),
            ServerMessage::Error {
                payload: ErrorPayload {
                    reason: "unknown messageType".into(),
                },
            },
        );
        check(
            json!({"messageType": "token", "payload": {"token": "0f3c"}}),
            ServerMessage::Token {
                payload: TokenPayload {
                    token: "0f3c".into(),
                },
            },
        );
        check(
            json!({"messageType": "resumed", "payload": {"after": 1796812345678000u64}}),
            ServerMessage::Resumed {
                payload: ResumedPayload {
                    after: 1796812345678000,
                },
            },
        );
        check(
            json!({"messageType": "status", "payload": {"bus_ok": false}}),
            ServerMessage::Status {
                payload: StatusPayload { bus_ok: false },
            },
        );
        check(
            json!({"messageType": "score", "playerID": PLAYER,
                   "payload": {"name": "Ana", "score": 4}}),
            ServerMessage::Score {
                player_id: PLAYER.parse().unwrap(),
                payload: ScorePayload {
                    name: "Ana".into(),
                    score: 4,
                },
            },
        );
    }
}
