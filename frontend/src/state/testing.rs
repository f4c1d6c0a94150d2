//! What the reducer's tests share: our id and another's, frames as the server writes
//! them, and a state that entered and was placed.

use protocol::Uuid;

use super::{Action, GameState, Socket};

pub const ME: Uuid = Uuid::from_u128(0x6f1a4a5e_0000_4000_8000_000000000001);
pub const OTHER: Uuid = Uuid::from_u128(0x6f1a4a5e_0000_4000_8000_000000000002);
pub const FLY: Uuid = Uuid::from_u128(0x6f1a4a5e_0000_4000_8000_0000000000f0);

/// A fresh page of `ME`, named Argiope, not in a game.
pub fn offline() -> GameState {
    GameState::new(ME, "Argiope".into(), "ws://127.0.0.1:8000".into())
}

/// A state that entered, had its socket open and was placed at (10, 10).
pub fn placed() -> GameState {
    let mut s = offline();
    s.apply(Action::Enter);
    open(&mut s);
    receive(&mut s, Socket::Player, &player_frame(ME, 10, 10, 0));
    s
}

/// The socket of the current session opened.
pub fn open(s: &mut GameState) {
    s.apply(Action::Opened {
        session: s.link.session,
    });
}

pub fn player_frame(id: Uuid, x: i32, y: i32, generation: i32) -> String {
    format!(
        r#"{{"messageType":"player","playerID":"{id}","payload":{{"x":{x},"y":{y},"h":false,"generation":{generation},"name":"n"}}}}"#
    )
}

pub fn food_frame(id: Uuid, x: i32, y: i32) -> String {
    format!(
        r#"{{"messageType":"food","foodID":"{id}","payload":{{"x":{x},"y":{y},"name":"food_0000"}}}}"#
    )
}

pub fn score_frame(id: Uuid, name: &str, score: u32) -> String {
    format!(
        r#"{{"messageType":"score","playerID":"{id}","payload":{{"name":"{name}","score":{score}}}}}"#
    )
}

/// `text` arriving on the `socket` stream of the current session's socket, as the
/// server writes it there: a world frame alone is a batch of one.
pub fn receive(s: &mut GameState, socket: Socket, text: &str) {
    let text = match socket {
        Socket::World if !text.starts_with('[') => format!("[{text}]"),
        _ => text.into(),
    };
    s.apply(Action::Received {
        session: s.link.session,
        text,
    });
}

/// The frames queued for the player socket.
pub fn sent(s: &GameState) -> Vec<String> {
    s.outbox.frames.iter().map(|(_, t)| t.clone()).collect()
}
