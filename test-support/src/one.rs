//! A client of the one socket (`/ws/one/{id}`, docs/protocol.md): commands, direct
//! replies and the batched world stream on one WebSocket, as Drapetisca's page plays.
//! Every message it reads must be a JSON object (a direct reply) or a non-empty JSON
//! array (a world batch); it keeps the two apart as the page does, by that shape.

use std::collections::VecDeque;

use futures_util::{SinkExt, StreamExt};
use protocol::{Cell, Uuid};
use serde_json::{json, Value};
use tokio_tungstenite::tungstenite::Message;

use crate::app::{cell_of, is_move, move_frame, open, open_at, TestApp, View, Ws, PATIENCE};

/// A player on the one socket.
pub struct OneClient {
    pub id: Uuid,
    pub name: String,
    /// The one socket.
    pub ws: Ws,
    /// Where the server last put this player.
    pub at: Option<Cell>,
    /// This client's move counter.
    pub generation: i64,
    /// The board as last seen.
    pub view: View,
    /// Direct replies read and not yet asked for, oldest first.
    direct: VecDeque<Value>,
    /// World updates read and not yet asked for, oldest first (a batch's in order).
    world: VecDeque<Value>,
    /// Every world update read, in order.
    pub world_log: Vec<Value>,
}

impl OneClient {
    /// Opens the one socket of the default game under a fresh id.
    pub async fn connect(app: &TestApp, name: &str) -> OneClient {
        Self::connect_as(app, Uuid::new_v4(), name).await
    }

    /// Opens the one socket of the default game under `id`.
    pub async fn connect_as(app: &TestApp, id: Uuid, name: &str) -> OneClient {
        Self::on(open(app, &protocol::one_route(id)).await, id, name)
    }

    /// Opens the one socket of game `game` under `id`.
    pub async fn connect_to_as(app: &TestApp, game: Uuid, id: Uuid, name: &str) -> OneClient {
        Self::on(
            open(app, &protocol::game_one_route(game, id)).await,
            id,
            name,
        )
    }

    /// Opens the one socket of the default game under `id` on the server at `address`.
    pub async fn connect_at(address: &str, id: Uuid, name: &str) -> OneClient {
        Self::on(open_at(address, &protocol::one_route(id)).await, id, name)
    }

    /// A spectator of game `game` (docs/protocol.md, "Spectators") on the server at
    /// `address`, its path ending with `query` (`""`, or `?after=N`): the same reading
    /// of direct replies (its brief) and world batches as a player's one socket. It has
    /// no player id (nil).
    pub async fn watch_at(address: &str, game: Uuid, query: &str) -> OneClient {
        let path = format!("{}{query}", protocol::game_watch_route(game));
        Self::on(open_at(address, &path).await, Uuid::nil(), "spectator")
    }

    /// Reads a spectator's brief: the direct replies up to the game's food (the board,
    /// the players, the bricks, then the food, `food` of them; the scoreboard may
    /// follow, read later); returns them all.
    pub async fn watched_brief(&mut self, food: usize) -> Vec<Value> {
        let mut brief = Vec::new();
        while brief
            .iter()
            .filter(|f: &&Value| f["messageType"] == "food")
            .count()
            < food
        {
            let frame = self.next_direct().await;
            self.view.learn(self.id, &frame);
            brief.push(frame);
        }
        brief
    }

    /// The next message as read off the socket, not sorted: `None` once it closed.
    pub async fn next_message(&mut self) -> Option<Value> {
        loop {
            let message = tokio::time::timeout(PATIENCE, self.ws.next())
                .await
                .unwrap_or_else(|_| panic!("{}: no message in time", self.name));
            match message {
                Some(Ok(Message::Text(text))) => {
                    return Some(serde_json::from_str(&text).expect("server messages are JSON"))
                }
                Some(Ok(Message::Close(_))) | None | Some(Err(_)) => return None,
                Some(Ok(_)) => continue,
            }
        }
    }

    /// A client on an open one socket of player `id`.
    pub fn on(ws: Ws, id: Uuid, name: &str) -> OneClient {
        OneClient {
            id,
            name: name.into(),
            ws,
            at: None,
            generation: 0,
            view: View::default(),
            direct: VecDeque::new(),
            world: VecDeque::new(),
            world_log: Vec::new(),
        }
    }

    pub async fn send(&mut self, frame: Value) {
        self.ws
            .send(Message::text(frame.to_string()))
            .await
            .expect("frame sent");
    }

    /// Sends `entering` (its payload: the name and `extra`'s fields) and reads the
    /// direct replies up to and including the own position; returns them all.
    pub async fn enter_with(&mut self, extra: Value) -> Vec<Value> {
        let mut payload = json!({"name": self.name});
        for (k, v) in extra.as_object().expect("an object") {
            payload[k] = v.clone();
        }
        self.send(json!({"messageType": "entering", "payload": payload}))
            .await;
        let mut brief = Vec::new();
        loop {
            let frame = self.next_direct().await;
            brief.push(frame.clone());
            self.view.learn(self.id, &frame);
            if frame["messageType"] == "player" && frame["playerID"] == self.id.to_string() {
                self.at = Some(cell_of(&frame));
                self.generation = self
                    .generation
                    .max(frame["payload"]["generation"].as_i64().unwrap());
                return brief;
            }
        }
    }

    /// [`OneClient::enter_with`] the name alone.
    pub async fn enter(&mut self) -> Vec<Value> {
        self.enter_with(json!({})).await
    }

    /// Reads one message into the direct or the world queue, by its shape; `false` once
    /// the socket closed.
    async fn read(&mut self) -> bool {
        loop {
            let message = tokio::time::timeout(PATIENCE, self.ws.next())
                .await
                .unwrap_or_else(|_| panic!("{}: no message in time", self.name));
            let text = match message {
                Some(Ok(Message::Text(text))) => text,
                Some(Ok(Message::Close(_))) | None | Some(Err(_)) => return false,
                Some(Ok(_)) => continue,
            };
            match serde_json::from_str(&text).expect("server messages are JSON") {
                Value::Array(batch) => {
                    assert!(!batch.is_empty(), "no empty batch");
                    for frame in batch {
                        assert!(frame.is_object(), "a batch holds frames: {text}");
                        self.view.learn(self.id, &frame);
                        self.world_log.push(frame.clone());
                        self.world.push_back(frame);
                    }
                }
                frame @ Value::Object(_) => self.direct.push_back(frame),
                other => panic!("neither a batch nor a frame: {other}"),
            }
            return true;
        }
    }

    /// The next direct reply.
    pub async fn next_direct(&mut self) -> Value {
        loop {
            if let Some(frame) = self.direct.pop_front() {
                return frame;
            }
            assert!(
                self.read().await,
                "{}: closed before a direct reply",
                self.name
            );
        }
    }

    /// The next world update that satisfies `wanted`; those before it stay queued for
    /// later calls.
    pub async fn world_until(&mut self, what: &str, wanted: impl Fn(&Value) -> bool) -> Value {
        let deadline = tokio::time::Instant::now() + PATIENCE;
        loop {
            if let Some(i) = self.world.iter().position(&wanted) {
                // unwrap: the index was just found
                return self.world.remove(i).unwrap();
            }
            let read = tokio::time::timeout_at(deadline, self.read())
                .await
                .unwrap_or_else(|_| panic!("{}: waited for {what}", self.name));
            assert!(read, "{}: closed while waiting for {what}", self.name);
        }
    }

    /// Waits for the world update about `player` with generation `generation`.
    pub async fn sees_move(&mut self, player: Uuid, generation: i64) -> Value {
        let what = format!("move {generation} of {player}");
        self.world_until(&what, |f| is_move(f, player, generation))
            .await
    }

    /// Asks to move to `(x, y)` and returns where the server put us (own world update).
    pub async fn move_to(&mut self, x: i32, y: i32) -> Cell {
        self.generation += 1;
        let generation = self.generation;
        self.send(move_frame(Cell::new(x, y), generation, &self.name))
            .await;
        let cell = cell_of(&self.sees_move(self.id, generation).await);
        self.at = Some(cell);
        cell
    }

    /// A cell next to this player with nothing on it.
    pub fn free_neighbour(&self) -> Cell {
        self.view
            .free_neighbour(self.at.expect("own position known"))
    }

    /// Reads until the server closes the socket; returns its close code and reason, and
    /// the reasons of the `error` frames read on the way.
    pub async fn close_of(&mut self) -> (u16, String, Vec<String>) {
        let mut errors = Vec::new();
        loop {
            let message = tokio::time::timeout(PATIENCE, self.ws.next())
                .await
                .expect("close in time");
            match message {
                Some(Ok(Message::Close(Some(frame)))) => {
                    return (frame.code.into(), frame.reason.to_string(), errors)
                }
                Some(Ok(Message::Close(None))) => return (1005, String::new(), errors),
                Some(Ok(Message::Text(text))) => {
                    let frame: Value = serde_json::from_str(&text).expect("JSON");
                    if frame["messageType"] == "error" {
                        errors.push(frame["payload"]["reason"].as_str().unwrap().into());
                    }
                }
                Some(Ok(_)) => continue,
                Some(Err(e)) => panic!("socket failed before closing cleanly: {e}"),
                None => panic!("socket ended without a close frame"),
            }
        }
    }
}
