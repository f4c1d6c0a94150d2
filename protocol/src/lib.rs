//! The wire contract of Drapetisca, shared by the server, the browser client and the
//! load generator.
//!
//! Every frame is one JSON object with a `messageType` string and a `payload` object
//! (see `shared/design/protocol.md`). The types here are exactly those shapes; game
//! state lives elsewhere and converts to and from them.
//!
//! # Layout
//!
//! - [`board`]: the geometry of the grid (sizes, clamping, the centre).
//! - [`client`]: frames a client sends on its player socket ([`ClientMessage`]).
//! - [`server`]: frames the server sends on either socket ([`ServerMessage`]).
//!
//! This crate does no IO and depends on nothing async, so it compiles to wasm and native.

pub mod board;
pub mod client;
pub mod server;

pub use board::{Board, Cell};
pub use client::{ChatLine, ClientMessage, Entering, PlayerUpdate};
pub use server::{
    ChatFrom, Geometry, LeavingPayload, ObjectPayload, ScorePayload, ServerMessage, SERVER_CHAT_ID,
    SERVER_CHAT_NAME,
};
pub use uuid::Uuid;

/// Longest player name the server accepts, in characters; longer names are cut.
pub const MAX_NAME_CHARS: usize = 32;
/// Longest chat line the server accepts, in characters; longer lines are cut.
pub const MAX_CHAT_CHARS: usize = 280;
/// Largest frame the server reads, in bytes; a larger one closes the socket.
pub const MAX_FRAME_BYTES: usize = 64 * 1024;

/// The player socket's route, relative to the server root.
pub fn player_route(player_id: Uuid) -> String {
    format!("/ws/player/{player_id}")
}

/// The world socket's route, relative to the server root.
pub fn world_route(player_id: Uuid) -> String {
    format!("/ws/world/{player_id}")
}

/// The player socket's path for `player_id` in game `game_id` (an extension: the
/// reference routes above play the server's default game).
pub fn game_player_route(game_id: Uuid, player_id: Uuid) -> String {
    format!("/ws/game/{game_id}/player/{player_id}")
}

/// The world socket's path for `player_id` in game `game_id` (an extension).
pub fn game_world_route(game_id: Uuid, player_id: Uuid) -> String {
    format!("/ws/game/{game_id}/world/{player_id}")
}

/// The one socket's route for `player_id` in the default game (an extension,
/// docs/protocol.md): the player's commands and replies and its batched world stream on
/// one WebSocket.
pub fn one_route(player_id: Uuid) -> String {
    format!("/ws/one/{player_id}")
}

/// The one socket's route for `player_id` in game `game_id` (an extension).
pub fn game_one_route(game_id: Uuid, player_id: Uuid) -> String {
    format!("/ws/game/{game_id}/one/{player_id}")
}

/// A spectator's route in the default game (an extension, docs/protocol.md,
/// "Spectators"): the board, then the batched world stream; no player, no commands.
pub const WATCH_ROUTE: &str = "/ws/watch";

/// A spectator's route in game `game_id` (an extension).
pub fn game_watch_route(game_id: Uuid) -> String {
    format!("/ws/game/{game_id}/watch")
}

/// The query a client appends to either world route to get the batched world stream
/// (an extension, docs/protocol.md): each message a JSON array of the reference frames,
/// in order, several updates to a message.
pub const BATCH_QUERY: &str = "?batch=true";
