//! What travels on the cluster's own topics, as Rust types; their names, properties and
//! JSON schemas are the topics' contract, in `bus_pulsar::contract`.
//!
//! - The **command** topic (partitioned, key = game id) carries [`Command`]s from the
//!   instance that holds a player's socket to the instance that owns the game, and each
//!   instance's [`Kind::Ping`]s that tell it which partitions it owns.
//! - The **direct** topic carries [`Direct`] replies (a brief, an error, "Good catch!")
//!   from the owner back to the instance that holds the player's socket.
//!
//! Both payloads are JSON objects whose schemas are registered on the topics, so any
//! Pulsar client, function or sink reads them typed.

use protocol::Uuid;
use serde::{Deserialize, Serialize};

/// What a command is about.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Kind {
    /// A player socket opened on the origin instance.
    Connect,
    /// A frame from a player socket (in `frame`).
    Message,
    /// A player socket closed.
    Disconnect,
    /// A spectator on the origin asks for the game as it stands (docs/protocol.md,
    /// "Spectators"): the owner's room answers with one direct brief to `socket` (a
    /// made-up id and a connection number of the origin's), and keeps nothing of it.
    Watch,
    /// Every player socket of this game the origin holds now (in `conns`); sent every
    /// second, it keeps the owner's view of who is connected where alive, and tells a
    /// new owner after a take-over.
    Presence,
    /// "Whoever owns this partition": the origin's own ping to learn ownership (nil
    /// game); or, with a game and a nonce in `id`, a new owner's take-over marker: the
    /// commands before it may be redeliveries, those after it are new (see
    /// `cluster::redelivery`).
    Ping,
}

/// One player socket, as named across instances: the origin's connection number.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct ConnRef {
    /// The player id of the socket.
    pub player: Uuid,
    /// The origin instance's number for this connection.
    pub conn: u64,
}

/// A message on the command topic.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Command {
    /// The game it is for (nil for an ownership ping).
    pub game: Uuid,
    /// The instance that sent it (holds the socket).
    pub origin: String,
    /// What it is.
    pub kind: Kind,
    /// The socket's player and connection (connect, message, disconnect).
    #[serde(default)]
    pub socket: Option<ConnRef>,
    /// The client's frame, as protocol JSON (message).
    #[serde(default)]
    pub frame: Option<String>,
    /// Every socket of the game on the origin (presence).
    #[serde(default)]
    pub conns: Option<Vec<ConnRef>>,
    /// A unique id (connect, message, disconnect): the owner stamps the world frames a
    /// command causes with it, so that a new owner recognises a command the old one
    /// applied when the broker delivers it again. A take-over marker's nonce.
    #[serde(default)]
    pub id: Option<Uuid>,
}

/// A message on the direct topic: frames for one player socket.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Direct {
    /// The instance holding the socket; every other instance ignores the message.
    pub target: String,
    /// The game.
    pub game: Uuid,
    /// The socket.
    pub socket: ConnRef,
    /// The frames, protocol JSON, in order (a brief has many).
    pub frames: Vec<String>,
    /// Close the socket with this reason (after the frames): the room refused it.
    #[serde(default)]
    pub close: Option<String>,
}

#[cfg(test)]
mod tests {
    use super::*;
    use bus_pulsar::contract::{command_schema, direct_schema, world_schema};

    #[test]
    fn schemas_are_valid_json() {
        for schema in [command_schema(), direct_schema(), world_schema()] {
            let value: serde_json::Value = serde_json::from_slice(&schema.schema_data).unwrap();
            assert_eq!(value["type"], "record");
        }
    }

    #[test]
    fn a_command_round_trips_and_names_its_fields_as_the_schema_does() {
        let command = Command {
            game: Uuid::from_u128(1),
            origin: "a".into(),
            kind: Kind::Message,
            socket: Some(ConnRef {
                player: Uuid::from_u128(2),
                conn: 3,
            }),
            frame: Some(r#"{"messageType":"leaving","payload":{"name":"x"}}"#.into()),
            conns: None,
            id: Some(Uuid::from_u128(4)),
        };
        let json = serde_json::to_value(&command).unwrap();
        assert_eq!(json["kind"], "message");
        assert_eq!(json["socket"]["conn"], 3);
        let schema: serde_json::Value =
            serde_json::from_slice(&command_schema().schema_data).unwrap();
        let fields: Vec<&str> = schema["fields"]
            .as_array()
            .unwrap()
            .iter()
            .map(|f| f["name"].as_str().unwrap())
            .collect();
        let keys: Vec<&str> = json
            .as_object()
            .unwrap()
            .keys()
            .map(|k| k.as_str())
            .collect();
        for key in &keys {
            assert!(fields.contains(key), "{key} is not in the schema");
        }
        let back: Command = serde_json::from_value(json).unwrap();
        assert_eq!(back, command);
    }
}
