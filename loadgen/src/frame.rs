//! A light reading of world frames: the bots' hot path.
//!
//! `protocol::ServerMessage` is an internally tagged enum, which serde decodes by first
//! buffering the whole frame into an owned tree; at hundreds of thousands of frames per
//! second that would make the generator, not the server, the bottleneck. World frames
//! are therefore read into this borrowed view, which keeps only what a bot acts on.
//! Everything the bot reads on its player socket (the brief, rejections) goes through
//! `protocol::ServerMessage` as usual.

use protocol::{Cell, Uuid};
use serde::Deserialize;

/// The parts of a server frame a bot needs, borrowed from the frame's text.
#[derive(Debug, Deserialize)]
pub struct WorldFrame<'a> {
    /// `player`, `leaving`, `chat`, `food`, ...
    #[serde(rename = "messageType", borrow)]
    pub kind: &'a str,
    /// The player the frame is about; absent on food frames.
    #[serde(rename = "playerID", default, borrow)]
    pub player_id: Option<&'a str>,
    /// Position and generation, when the frame has them.
    #[serde(default)]
    pub payload: Payload,
    /// The update's number in its game's stream (the batched stream's updates).
    #[serde(default)]
    pub seq: Option<u64>,
}

/// The fields of a `player` payload a bot needs; other payloads leave them empty.
#[derive(Debug, Default, Deserialize)]
pub struct Payload {
    #[serde(default)]
    pub x: Option<i32>,
    #[serde(default)]
    pub y: Option<i32>,
    /// The mover's move counter, which matches a delivery to the move that caused it.
    #[serde(default)]
    pub generation: Option<i32>,
}

impl<'a> WorldFrame<'a> {
    pub fn parse(text: &'a str) -> Result<Self, serde_json::Error> {
        serde_json::from_str(text)
    }

    /// A message of the batched world stream: the frames of a JSON array, in order.
    pub fn parse_batch(text: &'a str) -> Result<Vec<Self>, serde_json::Error> {
        serde_json::from_str(text)
    }

    /// The player the frame is about, if it names one that parses as a UUID.
    pub fn player(&self) -> Option<Uuid> {
        self.player_id.and_then(|id| Uuid::parse_str(id).ok())
    }

    pub fn cell(&self) -> Option<Cell> {
        Some(Cell::new(self.payload.x?, self.payload.y?))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use protocol::{PlayerUpdate, ServerMessage};

    #[test]
    fn a_player_frame_reads_the_same_as_through_the_protocol_types() {
        let id = Uuid::new_v4();
        let text = ServerMessage::Player {
            player_id: id,
            payload: PlayerUpdate {
                x: Some(3),
                y: Some(17),
                h: true,
                generation: 42,
                name: "with \"quotes\" and ünïcode".into(),
            },
        }
        .to_json();
        let frame = WorldFrame::parse(&text).unwrap();
        assert_eq!(frame.kind, "player");
        assert_eq!(frame.player(), Some(id));
        assert_eq!(frame.cell(), Some(Cell::new(3, 17)));
        assert_eq!(frame.payload.generation, Some(42));
    }

    #[test]
    fn a_batch_reads_as_its_frames_in_order() {
        let id = Uuid::new_v4();
        let moved = |generation| {
            ServerMessage::Player {
                player_id: id,
                payload: PlayerUpdate {
                    x: Some(1),
                    y: Some(generation),
                    h: false,
                    generation,
                    name: "Ana".into(),
                },
            }
            .to_json()
        };
        let food = r#"{"messageType":"food","foodID":"6f1a4a5e-0000-4000-8000-0000000000f0","payload":{"x":1,"y":2,"name":"food_0000"}}"#;
        let text = format!("[{},{food},{}]", moved(1), moved(2));
        let frames = WorldFrame::parse_batch(&text).unwrap();
        let seen: Vec<_> = frames
            .iter()
            .map(|f| (f.kind, f.payload.generation))
            .collect();
        assert_eq!(
            seen,
            [("player", Some(1)), ("food", None), ("player", Some(2))]
        );
        assert!(
            WorldFrame::parse_batch(&moved(1)).is_err(),
            "a lone frame is not a batch"
        );
    }

    #[test]
    fn food_and_chat_frames_read_without_a_generation() {
        let food = r#"{"messageType":"food","foodID":"6f1a4a5e-0000-4000-8000-0000000000f0","payload":{"x":1,"y":2,"name":"food_0000"}}"#;
        let frame = WorldFrame::parse(food).unwrap();
        assert_eq!(
            (frame.kind, frame.player(), frame.payload.generation),
            ("food", None, None)
        );
        let chat = ServerMessage::server_chat("c1", "hello").to_json();
        let frame = WorldFrame::parse(&chat).unwrap();
        assert_eq!(frame.kind, "chat");
        assert_eq!(frame.player(), None, "the server's chat id is not a uuid");
    }
}
