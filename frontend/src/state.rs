//! The one reducer: every piece of game state the page shows, and every rule for how a
//! user intent or a frame from the server changes it.
//!
//! Nothing here touches the browser. Socket callbacks, key handlers and timers only
//! dispatch an [`Action`]; the reducer always works on the *current* state, which is what
//! keeps the generation counter honest (a value captured by a socket callback would go
//! stale after the first move). Frames to send are not sent from here either: they are
//! queued in [`GameState::outbox`] and the app's sending effect writes them to the socket.
//!
//! This module compiles natively too, so `cargo test -p frontend` runs its tests.

use std::collections::VecDeque;

use protocol::{
    Board, Cell, ChatFrom, ChatLine, ClientMessage, Entering, PlayerUpdate, ServerMessage, Uuid,
};

/// How many chat lines the page keeps.
pub const CHAT_LINES: usize = 10;
/// How many sent frames the outbox remembers; the sender drains it after every render,
/// so it only needs to hold what a burst of key presses queues between two renders.
const OUTBOX_LEN: usize = 32;
/// First reconnection delay; doubled on every failed attempt.
const RETRY_BASE_MS: u32 = 500;
/// Longest reconnection delay.
const RETRY_MAX_MS: u32 = 8_000;

/// Which of the two sockets a frame or an event came from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Socket {
    /// `/ws/player/{id}`: our commands, and replies meant for us alone.
    Player,
    /// `/ws/world/{id}`: everything published to every player.
    World,
}

/// Where the page is in its life with the server.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Link {
    /// Not in a game: the form is shown.
    Offline,
    /// Sockets are being opened (for the first time, or again after a drop).
    Connecting,
    /// Both sockets are open.
    Open,
    /// A socket dropped; the next attempt starts after `delay_ms`.
    Retrying {
        /// How long the page waits before the next attempt.
        delay_ms: u32,
    },
}

/// Another player, as last reported by the server.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Spider {
    /// Where it stands; `None` while that player is still starting up.
    pub cell: Option<Cell>,
    /// Whether it shows hearts.
    pub hearts: bool,
    /// The name drawn beside it.
    pub name: String,
    /// Which way it faces, in degrees clockwise from up: the way it last moved. Not
    /// reduced to 0..360: each turn adds the shortest rotation, so that the drawn
    /// spider turns the short way (west to north is +90, not -270).
    pub heading: i32,
}

/// One line of the chat box.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ChatEntry {
    /// The line's id, used as the list key.
    pub id: String,
    /// Who said it, as they named themselves.
    pub name: String,
    /// What was said.
    pub text: String,
    /// Whether we said it (highlighted).
    pub own: bool,
    /// Whether the server itself said it (styled apart).
    pub server: bool,
}

/// Everything the page knows and shows.
#[derive(Clone, Debug, PartialEq)]
pub struct GameState {
    /// Our player id, drawn once per page load; kept across reconnections so the server
    /// gives us our spider back.
    pub me: Uuid,
    /// The name in the form, sent with every move.
    pub name: String,
    /// The server location in the form (`ws://host:port`), without a trailing slash.
    pub server: String,
    /// Whether sockets are wanted, open or being retried.
    pub link: Link,
    /// False while the server says world updates cannot be delivered (its bus is
    /// away): moves still count, but others' moves may arrive late.
    pub bus_ok: bool,
    /// Failed attempts since the last successful brief; sets the backoff.
    pub attempts: u32,
    /// Bumped whenever sockets must be (re)opened; the app's socket effect keys on it,
    /// and events from an older session's sockets are ignored.
    pub session: u32,
    /// The board's size, from the server's `geometry`.
    pub board: Board,
    /// Every other player on the field, by id, in order of arrival. A vector, not a
    /// map: there are a few dozen at most, and each map type costs kilobytes of wasm.
    pub players: Vec<(Uuid, Spider)>,
    /// Cells holding a brick; bricks never move.
    pub bricks: Vec<Cell>,
    /// Food items by id.
    pub food: Vec<(Uuid, Cell)>,
    /// Where our spider stands: `None` until the server placed it.
    pub own: Option<Cell>,
    /// Whether our spider shows hearts.
    pub hearts: bool,
    /// Which way our spider faces (see [`Spider::heading`]).
    pub heading: i32,
    /// Our move counter: sent with every `player` frame, then incremented. An update
    /// about us older than `generation - 1` is stale.
    pub generation: i32,
    /// The last [`CHAT_LINES`] chat lines, oldest first.
    pub chat: VecDeque<ChatEntry>,
    /// The last frame we sent, as text, for the status bar.
    pub last_sent: String,
    /// The last frame we received, as text, for the status bar.
    pub last_received: String,
    /// Frames waiting to be written to the player socket, each with a sequence number.
    pub outbox: VecDeque<(u64, String)>,
    /// Sequence number of the newest frame put in the outbox.
    pub outbox_seq: u64,
    /// The resume token the server bound to `me` (extension, docs/protocol.md): asked
    /// for on the first entering, presented on every later one, so that nobody else can
    /// enter under our id and a reconnect replaces our stale socket at once.
    pub token: Option<String>,
}

/// Everything that can happen to the state.
#[derive(Clone, Debug, PartialEq)]
pub enum Action {
    /// The name field changed.
    SetName(String),
    /// The server field changed.
    SetServer(String),
    /// The player pressed Enter in the form.
    Enter,
    /// The player pressed Leave.
    Leave,
    /// A socket of session `session` opened.
    Opened {
        /// The session the socket belongs to.
        session: u32,
        /// Which socket.
        socket: Socket,
    },
    /// A text frame arrived on a socket of session `session`.
    Received {
        /// The session the socket belongs to.
        session: u32,
        /// Which socket.
        socket: Socket,
        /// The frame, as received.
        text: String,
    },
    /// A socket of session `session` closed or failed.
    Dropped {
        /// The session the socket belongs to.
        session: u32,
    },
    /// The backoff delay ran out: open the sockets again.
    Retry,
    /// The backoff delay ran out, but the server does not answer yet: wait longer
    /// without opening sockets (a refused socket logs an error in the console).
    Unreachable,
    /// Move one king's step (arrow keys or buttons).
    Step {
        /// -1, 0 or 1.
        dx: i32,
        /// -1, 0 or 1.
        dy: i32,
    },
    /// Show or hide hearts (H).
    ToggleHearts,
    /// Say something in the chat; `id` is a fresh UUID drawn by the caller.
    Chat {
        /// The new line's id.
        id: String,
        /// What to say.
        text: String,
    },
}

impl GameState {
    pub fn new(me: Uuid, name: String, server: String) -> Self {
        GameState {
            me,
            name,
            server,
            link: Link::Offline,
            bus_ok: true,
            attempts: 0,
            session: 0,
            board: Board::STANDARD,
            players: Vec::new(),
            bricks: Vec::new(),
            food: Vec::new(),
            own: None,
            hearts: false,
            heading: 0,
            generation: 0,
            chat: VecDeque::new(),
            last_sent: String::new(),
            last_received: String::new(),
            outbox: VecDeque::new(),
            outbox_seq: 0,
            token: None,
        }
    }

    /// Whether the player is in a game (connected or trying to be).
    pub fn in_game(&self) -> bool {
        self.link != Link::Offline
    }

    /// Applies one action.
    pub fn apply(&mut self, action: Action) {
        match action {
            Action::SetName(name) => self.name = name,
            Action::SetServer(server) => self.server = server.trim_end_matches('/').into(),
            Action::Enter => {
                if self.in_game() || self.name.trim().is_empty() {
                    return;
                }
                self.name = self.name.trim().into();
                self.attempts = 0;
                self.connect();
            }
            Action::Leave => {
                if !self.in_game() {
                    return;
                }
                if self.link == Link::Open {
                    let name = self.name.clone();
                    self.send(ClientMessage::Leaving {
                        payload: Entering::named(name),
                    });
                }
                self.link = Link::Offline;
                self.clear_world();
            }
            Action::Opened { session, socket } => {
                if session != self.session || self.link != Link::Connecting {
                    return;
                }
                if socket == Socket::Player {
                    self.send(ClientMessage::Entering {
                        payload: Entering {
                            name: self.name.clone(),
                            want_token: self.token.is_none(),
                            token: self.token.clone(),
                        },
                    });
                    self.link = Link::Open;
                }
            }
            Action::Received {
                session,
                socket,
                text,
            } => {
                if session != self.session || !self.in_game() {
                    return;
                }
                if let Some(message) = crate::wire::parse(&text) {
                    self.receive(socket, message);
                }
                self.last_received = text;
            }
            Action::Dropped { session } => {
                if session != self.session || !self.in_game() {
                    return;
                }
                self.back_off();
                // a new session makes the socket effect close both old sockets
                self.session += 1;
            }
            Action::Retry => {
                if matches!(self.link, Link::Retrying { .. }) {
                    self.connect();
                }
            }
            Action::Unreachable => {
                if matches!(self.link, Link::Retrying { .. }) {
                    self.back_off();
                }
            }
            Action::Step { dx, dy } => self.step(dx, dy),
            Action::ToggleHearts => {
                if let Some(cell) = self.own {
                    self.hearts = !self.hearts;
                    self.send_move(cell);
                }
            }
            Action::Chat { id, text } => {
                let text = text.trim();
                if self.link == Link::Open && !text.is_empty() {
                    let name = self.name.clone();
                    self.send(ClientMessage::Chat {
                        payload: ChatLine {
                            id,
                            name,
                            text: text.into(),
                        },
                    });
                }
            }
        }
    }

    /// Starts a new session: the socket effect opens both sockets for it. The world is
    /// cleared because the server briefs us again on entering.
    fn connect(&mut self) {
        self.session += 1;
        self.link = Link::Connecting;
        self.bus_ok = true;
        self.clear_world();
    }

    /// Counts a failed attempt and waits longer before the next one.
    fn back_off(&mut self) {
        let delay_ms = RETRY_BASE_MS
            .saturating_mul(1 << self.attempts.min(5))
            .min(RETRY_MAX_MS);
        self.attempts += 1;
        self.link = Link::Retrying { delay_ms };
    }

    fn clear_world(&mut self) {
        self.players.clear();
        self.bricks.clear();
        self.food.clear();
        self.own = None;
    }

    /// Queues a frame for the player socket.
    fn send(&mut self, message: ClientMessage) {
        // not `to_json`: its unwrap would link serde_json's error formatting into the
        // page, and these frames (strings, numbers, booleans) always serialize
        let text = serde_json::to_string(&message).unwrap_or_default();
        self.outbox_seq += 1;
        self.outbox.push_back((self.outbox_seq, text.clone()));
        if self.outbox.len() > OUTBOX_LEN {
            self.outbox.pop_front();
        }
        self.last_sent = text;
    }

    /// Moves our spider at once (optimistic), tells the server, and counts the move.
    fn send_move(&mut self, cell: Cell) {
        if let Some(from) = self.own {
            self.heading = heading(from, cell, self.heading);
        }
        self.own = Some(cell);
        let payload = PlayerUpdate {
            x: Some(cell.x),
            y: Some(cell.y),
            h: self.hearts,
            generation: self.generation,
            name: self.name.clone(),
        };
        self.send(ClientMessage::Player { payload });
        self.generation += 1;
    }

    /// One king's step, unless it would leave the board or bump into a brick or another
    /// spider we know of (the server would refuse it anyway; not sending it spares a
    /// snap-back).
    fn step(&mut self, dx: i32, dy: i32) {
        let Some(from) = self.own else { return };
        if self.link != Link::Open {
            return;
        }
        let to = Cell::new(from.x + dx.signum(), from.y + dy.signum());
        let taken =
            self.bricks.contains(&to) || self.players.iter().any(|(_, p)| p.cell == Some(to));
        if to == from || !self.board.contains(to) || taken {
            return;
        }
        self.send_move(to);
    }

    fn receive(&mut self, socket: Socket, message: ServerMessage) {
        match message {
            ServerMessage::Geometry { payload } => {
                self.board = payload.into();
                // a brief is arriving: the connection works, so the backoff starts over
                self.attempts = 0;
            }
            ServerMessage::Player { player_id, payload } if player_id == self.me => {
                self.receive_own(socket, payload)
            }
            ServerMessage::Player { player_id, payload } => {
                let cell = payload.x.zip(payload.y).map(|(x, y)| Cell::new(x, y));
                let known = self.players.iter().find(|(id, _)| *id == player_id);
                let heading = match (known, cell) {
                    (Some((_, old)), Some(to)) => match old.cell {
                        Some(from) => heading(from, to, old.heading),
                        None => old.heading,
                    },
                    (Some((_, old)), None) => old.heading,
                    (None, _) => 0,
                };
                let spider = Spider {
                    cell,
                    hearts: payload.h,
                    name: payload.name,
                    heading,
                };
                upsert(&mut self.players, player_id, spider);
            }
            ServerMessage::Brick { payload } => {
                let cell = Cell::new(payload.x, payload.y);
                if !self.bricks.contains(&cell) {
                    self.bricks.push(cell);
                }
            }
            ServerMessage::Food { food_id, payload } => {
                upsert(&mut self.food, food_id, Cell::new(payload.x, payload.y));
            }
            ServerMessage::Leaving { player_id, .. } => {
                self.players.retain(|(id, _)| *id != player_id);
            }
            ServerMessage::Chat { player_id, payload } => {
                self.chat.push_back(ChatEntry {
                    own: player_id == ChatFrom::Player(self.me),
                    server: player_id == ChatFrom::Server,
                    id: payload.id,
                    name: payload.name,
                    text: payload.text,
                });
                while self.chat.len() > CHAT_LINES {
                    self.chat.pop_front();
                }
            }
            ServerMessage::Status { payload } => self.bus_ok = payload.bus_ok,
            ServerMessage::Token { payload } => self.token = Some(payload.token),
            // the reducer never sends what the server would reject, so there is nothing
            // for the player to act on; the frame still shows in the status bar
            ServerMessage::Error { .. } => {}
        }
    }

    /// An update about ourselves. Our start position (the first one after entering)
    /// always applies. After that, an update on the world socket older than
    /// `generation - 1` is the echo of a move we have already overtaken: applying it
    /// would make our spider jump back. The player socket only carries direct answers
    /// (the start position, snap-backs of refused moves), which always apply.
    fn receive_own(&mut self, socket: Socket, update: PlayerUpdate) {
        let Some((x, y)) = update.x.zip(update.y) else {
            return;
        };
        let placed = self.own.is_some();
        if placed && socket == Socket::World && update.generation < self.generation - 1 {
            return;
        }
        let to = Cell::new(x, y);
        if let Some(from) = self.own {
            self.heading = heading(from, to, self.heading);
        }
        self.own = Some(to);
        if !placed {
            self.hearts = update.h;
        }
        // never count below what the server has seen, or our next moves would look stale
        self.generation = self.generation.max(update.generation + 1);
    }
}

/// The heading after a step from `from` to `to`: `old` turned the short way round to
/// face the step (degrees clockwise from up), or `old` when they are the same cell.
fn heading(from: Cell, to: Cell, old: i32) -> i32 {
    let toward = match ((to.x - from.x).signum(), (to.y - from.y).signum()) {
        (0, 0) => return old,
        (0, -1) => 0,
        (1, -1) => 45,
        (1, 0) => 90,
        (1, 1) => 135,
        (0, 1) => 180,
        (-1, 1) => 225,
        (-1, 0) => 270,
        _ => 315,
    };
    // the turn in -180..180: a half turn goes clockwise
    let turn = (toward - old).rem_euclid(360);
    old + if turn > 180 { turn - 360 } else { turn }
}

/// Replaces the value under `key`, or appends it.
fn upsert<K: PartialEq, V>(entries: &mut Vec<(K, V)>, key: K, value: V) {
    match entries.iter_mut().find(|(k, _)| *k == key) {
        Some(entry) => entry.1 = value,
        None => entries.push((key, value)),
    }
}

#[cfg(target_arch = "wasm32")]
impl yew::Reducible for GameState {
    type Action = Action;

    fn reduce(self: std::rc::Rc<Self>, action: Action) -> std::rc::Rc<Self> {
        let mut next = std::rc::Rc::unwrap_or_clone(self);
        next.apply(action);
        std::rc::Rc::new(next)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const ME: Uuid = Uuid::from_u128(0x6f1a4a5e_0000_4000_8000_000000000001);
    const OTHER: Uuid = Uuid::from_u128(0x6f1a4a5e_0000_4000_8000_000000000002);

    /// A state that entered, had its player socket open and was placed at (10, 10).
    fn placed() -> GameState {
        let mut s = GameState::new(ME, "Argiope".into(), "ws://127.0.0.1:8000".into());
        s.apply(Action::Enter);
        s.apply(Action::Opened {
            session: s.session,
            socket: Socket::Player,
        });
        receive(&mut s, Socket::Player, &player_frame(ME, 10, 10, 0));
        s
    }

    fn player_frame(id: Uuid, x: i32, y: i32, generation: i32) -> String {
        format!(
            r#"{{"messageType":"player","playerID":"{id}","payload":{{"x":{x},"y":{y},"h":false,"generation":{generation},"name":"n"}}}}"#
        )
    }

    fn receive(s: &mut GameState, socket: Socket, text: &str) {
        s.apply(Action::Received {
            session: s.session,
            socket,
            text: text.into(),
        });
    }

    fn sent(s: &GameState) -> Vec<String> {
        s.outbox.iter().map(|(_, t)| t.clone()).collect()
    }

    #[test]
    fn entering_sends_the_name_once_the_player_socket_opens() {
        let s = placed();
        assert_eq!(
            sent(&s),
            vec![r#"{"messageType":"entering","payload":{"name":"Argiope","wantToken":true}}"#]
        );
        assert_eq!(s.own, Some(Cell::new(10, 10)));
        assert_eq!(s.generation, 1);
    }

    #[test]
    fn a_step_moves_at_once_and_sends_the_current_generation() {
        let mut s = placed();
        s.apply(Action::Step { dx: 1, dy: 0 });
        assert_eq!(s.own, Some(Cell::new(11, 10)));
        assert_eq!(
            s.last_sent,
            r#"{"messageType":"player","payload":{"x":11,"y":10,"h":false,"generation":1,"name":"Argiope"}}"#
        );
        assert_eq!(s.generation, 2);
    }

    #[test]
    fn a_stale_update_about_oneself_does_not_move_one_back() {
        let mut s = placed();
        for _ in 0..3 {
            s.apply(Action::Step { dx: 1, dy: 0 });
        }
        // we sent generations 1, 2, 3 and stand at (13, 10); generation is now 4
        assert_eq!((s.own, s.generation), (Some(Cell::new(13, 10)), 4));
        // the echo of generation 1 arrives late: older than generation - 1 = 3
        receive(&mut s, Socket::World, &player_frame(ME, 11, 10, 1));
        assert_eq!(s.own, Some(Cell::new(13, 10)));
        receive(&mut s, Socket::World, &player_frame(ME, 12, 10, 2));
        assert_eq!(s.own, Some(Cell::new(13, 10)));
    }

    #[test]
    fn the_update_for_the_latest_move_corrects_the_position() {
        let mut s = placed();
        s.apply(Action::Step { dx: 1, dy: 0 });
        s.apply(Action::Step { dx: 1, dy: 0 });
        // generation is 3; the server moved us somewhere else for generation 2
        receive(&mut s, Socket::World, &player_frame(ME, 11, 11, 2));
        assert_eq!(s.own, Some(Cell::new(11, 11)));
    }

    #[test]
    fn a_snap_back_on_the_player_socket_always_applies() {
        let mut s = placed();
        s.apply(Action::Step { dx: 0, dy: 1 });
        s.apply(Action::Step { dx: 0, dy: 1 });
        s.apply(Action::Step { dx: 0, dy: 1 });
        receive(&mut s, Socket::Player, &player_frame(ME, 10, 10, 1));
        assert_eq!(s.own, Some(Cell::new(10, 10)));
    }

    #[test]
    fn updates_about_others_always_apply_whatever_their_generation() {
        let mut s = placed();
        for _ in 0..5 {
            s.apply(Action::Step { dx: -1, dy: 0 });
        }
        receive(&mut s, Socket::World, &player_frame(OTHER, 3, 4, 9));
        receive(&mut s, Socket::World, &player_frame(OTHER, 2, 4, 0));
        assert_eq!(s.players.len(), 1);
        assert_eq!(s.players[0].1.cell, Some(Cell::new(2, 4)));
        assert_eq!(s.own, Some(Cell::new(5, 10)));
    }

    #[test]
    fn steps_into_bricks_others_or_off_the_board_are_not_sent() {
        let mut s = placed();
        receive(
            &mut s,
            Socket::Player,
            r#"{"messageType":"brick","payload":{"x":11,"y":10,"name":"brick_0000"}}"#,
        );
        receive(&mut s, Socket::World, &player_frame(OTHER, 9, 10, 0));
        let before = s.clone();
        s.apply(Action::Step { dx: 1, dy: 0 });
        s.apply(Action::Step { dx: -1, dy: 0 });
        assert_eq!(s, before);
        let mut corner = placed();
        receive(&mut corner, Socket::Player, &player_frame(ME, 0, 0, 0));
        let before = corner.clone();
        corner.apply(Action::Step { dx: -1, dy: -1 });
        assert_eq!(corner, before);
    }

    #[test]
    fn spiders_face_the_way_they_last_moved() {
        let mut s = placed();
        s.apply(Action::Step { dx: 0, dy: 1 });
        assert_eq!(s.heading, 180);
        s.apply(Action::ToggleHearts);
        assert_eq!(s.heading, 180, "standing still keeps the heading");
        receive(&mut s, Socket::World, &player_frame(OTHER, 3, 4, 0));
        receive(&mut s, Socket::World, &player_frame(OTHER, 2, 4, 1));
        assert_eq!(
            s.players[0].1.heading, -90,
            "a quarter turn anticlockwise from up"
        );
    }

    #[test]
    fn spiders_turn_the_short_way_round() {
        let (c, up, right) = (Cell::new(5, 5), Cell::new(5, 4), Cell::new(6, 5));
        let (left, down) = (Cell::new(4, 5), Cell::new(5, 6));
        // west to north: a quarter turn clockwise, not three quarters back
        assert_eq!(heading(c, up, 270), 360);
        assert_eq!(heading(c, left, 0), -90);
        assert_eq!(heading(c, down, 0), 180, "a half turn goes clockwise");
        // many turns the same way keep adding up; each step is at most a half turn
        let mut h = 0;
        for to in [right, down, left, up, right] {
            let next = heading(c, to, h);
            assert!((next - h).abs() <= 180 && (next - heading(c, to, 0)).rem_euclid(360) == 0);
            h = next;
        }
        assert_eq!(h, 450);
    }

    #[test]
    fn hearts_toggle_is_a_player_frame_that_counts_as_a_move() {
        let mut s = placed();
        s.apply(Action::ToggleHearts);
        assert!(s.hearts);
        assert!(s.last_sent.contains(r#""h":true,"generation":1"#));
        assert_eq!(s.generation, 2);
    }

    #[test]
    fn chat_keeps_the_last_ten_lines_and_marks_our_own() {
        let mut s = placed();
        for i in 0..12 {
            let who = if i % 2 == 0 { ME } else { OTHER };
            receive(
                &mut s,
                Socket::World,
                &format!(
                    r#"{{"messageType":"chat","playerID":"{who}","payload":{{"id":"c{i}","name":"n","text":"line {i}"}}}}"#
                ),
            );
        }
        assert_eq!(s.chat.len(), CHAT_LINES);
        assert_eq!(s.chat[0].text, "line 2");
        assert!(s.chat[0].own);
        assert!(!s.chat[1].own);
        receive(
            &mut s,
            Socket::Player,
            r#"{"messageType":"chat","playerID":"_api_server_","payload":{"id":"s","name":"** API **","text":"Good catch!"}}"#,
        );
        assert!(s.chat.back().unwrap().server);
    }

    #[test]
    fn leaving_removes_the_player_and_food_moves() {
        let mut s = placed();
        receive(&mut s, Socket::World, &player_frame(OTHER, 3, 4, 0));
        let food = "6f1a4a5e-0000-4000-8000-0000000000f0";
        receive(
            &mut s,
            Socket::World,
            &format!(
                r#"{{"messageType":"food","foodID":"{food}","payload":{{"x":1,"y":2,"name":"food_0000"}}}}"#
            ),
        );
        receive(
            &mut s,
            Socket::World,
            &format!(
                r#"{{"messageType":"leaving","playerID":"{OTHER}","payload":{{"name":"n"}}}}"#
            ),
        );
        assert!(s.players.is_empty());
        assert_eq!(s.food, vec![(food.parse().unwrap(), Cell::new(1, 2))]);
    }

    #[test]
    fn a_drop_retries_with_growing_backoff_and_reenters_under_the_same_id() {
        let mut s = placed();
        let mut delays = vec![];
        for _ in 0..6 {
            s.apply(Action::Dropped { session: s.session });
            let Link::Retrying { delay_ms } = s.link else {
                panic!("expected a retry, got {:?}", s.link)
            };
            delays.push(delay_ms);
            s.apply(Action::Retry);
            assert_eq!(s.link, Link::Connecting);
        }
        assert_eq!(delays, vec![500, 1000, 2000, 4000, 8000, 8000]);
        s.apply(Action::Opened {
            session: s.session,
            socket: Socket::Player,
        });
        assert_eq!(s.me, ME);
        assert!(s.last_sent.contains("entering"));
    }

    #[test]
    fn the_resume_token_the_server_gave_is_presented_when_entering_again() {
        let mut s = placed();
        receive(
            &mut s,
            Socket::Player,
            r#"{"messageType":"token","payload":{"token":"0f3c"}}"#,
        );
        s.apply(Action::Dropped { session: s.session });
        s.apply(Action::Retry);
        s.apply(Action::Opened {
            session: s.session,
            socket: Socket::Player,
        });
        assert_eq!(
            s.last_sent,
            r#"{"messageType":"entering","payload":{"name":"Argiope","token":"0f3c"}}"#
        );
    }

    #[test]
    fn an_unreachable_server_backs_off_without_opening_sockets() {
        let mut s = placed();
        s.apply(Action::Dropped { session: s.session });
        let session = s.session;
        s.apply(Action::Unreachable);
        s.apply(Action::Unreachable);
        assert_eq!(s.link, Link::Retrying { delay_ms: 2000 });
        assert_eq!((s.session, s.attempts), (session, 3));
        s.apply(Action::Retry);
        assert_eq!(s.link, Link::Connecting);
        s.apply(Action::Unreachable);
        assert_eq!(s.link, Link::Connecting, "only a waiting page backs off");
    }

    #[test]
    fn events_from_an_old_session_are_ignored() {
        let mut s = placed();
        let old = s.session;
        s.apply(Action::Dropped { session: old });
        s.apply(Action::Retry);
        s.apply(Action::Dropped { session: old });
        assert_eq!(s.link, Link::Connecting);
        s.apply(Action::Received {
            session: old,
            socket: Socket::World,
            text: player_frame(OTHER, 1, 1, 0),
        });
        assert!(s.players.is_empty());
    }

    #[test]
    fn the_server_saying_its_bus_is_away_is_remembered_until_it_is_back() {
        let mut s = placed();
        receive(
            &mut s,
            Socket::World,
            r#"{"messageType":"status","payload":{"bus_ok":false}}"#,
        );
        assert!(!s.bus_ok);
        receive(
            &mut s,
            Socket::World,
            r#"{"messageType":"status","payload":{"bus_ok":true}}"#,
        );
        assert!(s.bus_ok);
    }

    #[test]
    fn leave_sends_leaving_and_goes_offline() {
        let mut s = placed();
        s.apply(Action::Leave);
        assert_eq!(
            s.last_sent,
            r#"{"messageType":"leaving","payload":{"name":"Argiope"}}"#
        );
        assert_eq!(s.link, Link::Offline);
        assert_eq!(s.own, None);
    }
}
