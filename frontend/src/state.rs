//! The one reducer: every piece of game state the page shows, and every rule for how a
//! user intent or a frame from the server changes it.
//!
//! Nothing here touches the browser. Socket callbacks, key handlers and timers only
//! dispatch an [`Action`]; the reducer always works on the *current* state, which is what
//! keeps the generation counter honest (a value captured by a socket callback would go
//! stale after the first move). Frames to send are not sent from here either: they are
//! queued in [`GameState::outbox`] and the app's sending effect writes them to the socket.
//!
//! Our own moves are speculative: the page judges each with the server's own rules (the
//! `rules` crate) against the world as it knows it, shows it at once if they allow it,
//! and sends it; a move into a brick, off the board or onto a spider it knows about is
//! never shown. Only a true race (someone got there first) brings a correction from the
//! server, which the field glides to like any move.
//!
//! This module compiles natively too, so `cargo test -p frontend` runs its tests.

use std::collections::{HashMap, VecDeque};

use protocol::{
    Board, Cell, ChatFrom, ChatLine, ClientMessage, Entering, PlayerUpdate, ScorePayload,
    ServerMessage, Uuid,
};
use rules::{Game, Item, Player};

/// How many players the scoreboard lists.
pub const SCOREBOARD_LINES: usize = 5;
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
    /// The world as the server last described it (board, bricks, flies, every active
    /// spider by id, so that one board of 800+ players costs O(1) per update), with our
    /// own spider where our latest move put it. Bricks carry no id on the wire: theirs
    /// is nil.
    pub world: Game,
    /// Which way each spider faces (ours too), by player id: degrees clockwise from up,
    /// the way it last moved. Not wrapped to 0..360, so that a turn always animates the
    /// short way round.
    pub headings: HashMap<Uuid, i32>,
    /// Flies our moves caught that the server has not placed anew yet: hidden from the
    /// field at once, put back if the server corrects our position instead.
    pub caught: Vec<Item>,
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
            world: empty_world(Board::STANDARD),
            headings: HashMap::new(),
            caught: Vec::new(),
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

    /// The board's size, from the server's `geometry`.
    pub fn board(&self) -> Board {
        self.world.board
    }

    /// Our spider, once the server placed it.
    pub fn own_player(&self) -> Option<&Player> {
        self.world.player(self.me).filter(|p| p.cell.is_some())
    }

    /// Where our spider stands: `None` until the server placed it.
    pub fn own(&self) -> Option<Cell> {
        self.own_player().and_then(|p| p.cell)
    }

    /// Which way spider `id` faces, in degrees (see [`GameState::headings`]).
    pub fn heading(&self, id: Uuid) -> i32 {
        self.headings.get(&id).copied().unwrap_or(0)
    }

    /// Every other spider with a position, in no particular order.
    pub fn others(&self) -> impl Iterator<Item = (Uuid, &Player)> {
        let me = self.me;
        self.world
            .active_players()
            .filter(move |(id, p)| *id != me && p.cell.is_some())
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
                // a batch of the batched world stream: its updates in order, each
                // as if it had come alone
                for message in crate::wire::parse_all(&text) {
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
                if let Some(mut own) = self.own_player().cloned() {
                    own.h = !own.h;
                    self.world.put_player(self.me, own);
                    self.send_own_move();
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
        self.world = empty_world(self.world.board);
        self.headings.clear();
        self.caught.clear();
    }

    /// Queues a frame for the player socket.
    fn send(&mut self, message: ClientMessage) {
        let text = crate::wire::encode(&message);
        self.outbox_seq += 1;
        self.outbox.push_back((self.outbox_seq, text.clone()));
        if self.outbox.len() > OUTBOX_LEN {
            self.outbox.pop_front();
        }
        self.last_sent = text;
    }

    /// Tells the server where our spider now stands (in [`GameState::world`]), and
    /// counts the move.
    fn send_own_move(&mut self) {
        let Some(own) = self.own_player() else { return };
        let payload = PlayerUpdate {
            generation: self.generation,
            name: self.name.clone(),
            ..own.update()
        };
        self.send(ClientMessage::Player { payload });
        self.generation += 1;
    }

    /// One king's step, judged by the server's rules on what we know: a step into a brick
    /// or onto a spider is refused, one off the board is clamped back onto our own cell;
    /// either way nothing shows and nothing is sent (the server would refuse or ignore
    /// it). An allowed step shows at once, with the fly it catches, and is sent.
    fn step(&mut self, dx: i32, dy: i32) {
        let Some(mut own) = self.own_player().cloned() else {
            return;
        };
        let (Some(from), Link::Open) = (own.cell, self.link) else {
            return;
        };
        let requested = Cell::new(from.x + dx.signum(), from.y + dy.signum());
        let Ok(to) = rules::judge_move(&self.world, self.me, from, requested) else {
            return;
        };
        if to == from {
            return;
        }
        self.turn(self.me, from, to);
        own.cell = Some(to);
        if let Some(index) = self.world.food_on(to) {
            // the server moves a caught fly to a random cell and tells everyone; until
            // then it is ours, off the field, and counts for our score
            self.caught.push(self.world.food.remove(index));
            own.score += 1;
        }
        self.world.put_player(self.me, own);
        self.send_own_move();
    }

    /// Turns spider `id` the way it goes from `from` to `to`, the short way round;
    /// standing still keeps its heading.
    fn turn(&mut self, id: Uuid, from: Cell, to: Cell) {
        let old = self.heading(id);
        self.headings.insert(id, turn(old, from, to));
    }

    fn receive(&mut self, socket: Socket, message: ServerMessage) {
        match message {
            ServerMessage::Geometry { payload } => {
                let board = Board::from(payload);
                if board != self.world.board {
                    // the brief that follows describes the whole world on the new board
                    self.world = empty_world(board);
                }
                // a brief is arriving: the connection works, so the backoff starts over
                self.attempts = 0;
            }
            ServerMessage::Player { player_id, payload } if player_id == self.me => {
                self.receive_own(socket, payload)
            }
            ServerMessage::Player { player_id, payload } => {
                let known = self.world.player(player_id);
                let (known_cell, score) =
                    (known.and_then(|p| p.cell), known.map_or(0, |p| p.score));
                // a position-less update (rule 1) leaves a spider where it was, as the
                // server does
                let cell = payload.x.zip(payload.y).map(|(x, y)| Cell::new(x, y));
                if let (Some(from), Some(to)) = (known_cell, cell) {
                    self.turn(player_id, from, to);
                }
                let player = Player {
                    cell: cell.or(known_cell),
                    h: payload.h,
                    generation: payload.generation,
                    name: payload.name,
                    active: true,
                    score,
                };
                self.world.put_player(player_id, player);
            }
            ServerMessage::Brick { payload } => self.world.put_brick(Item {
                id: Uuid::nil(),
                cell: Cell::new(payload.x, payload.y),
                name: payload.name,
            }),
            ServerMessage::Food { food_id, payload } => {
                self.caught.retain(|f| f.id != food_id);
                self.world.put_food(Item {
                    id: food_id,
                    cell: Cell::new(payload.x, payload.y),
                    name: payload.name,
                });
            }
            ServerMessage::Leaving { player_id, .. } if player_id != self.me => {
                rules::leave(&mut self.world, player_id);
                self.headings.remove(&player_id);
            }
            // only a stale echo of our own leaving: we are still here
            ServerMessage::Leaving { .. } => {}
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
            ServerMessage::Score { player_id, payload } => self.score(player_id, payload),
            ServerMessage::Token { payload } => self.token = Some(payload.token),
            // the reducer never sends what the server would reject, so there is nothing
            // for the player to act on; the frame still shows in the status bar
            ServerMessage::Error { .. } => {}
        }
    }

    /// A player's score: kept on its entry in the world, which a player we have not
    /// seen on the field (a top scorer who left) gets without a position. Scores only
    /// grow, so a late frame never lowers one; our own score counts our catches at once.
    fn score(&mut self, id: Uuid, payload: ScorePayload) {
        let player = match self.world.player(id) {
            Some(p) if p.score >= payload.score => return,
            Some(p) => Player {
                score: payload.score,
                ..p.clone()
            },
            None => Player {
                name: payload.name,
                cell: None,
                h: false,
                generation: 0,
                active: false,
                score: payload.score,
            },
        };
        self.world.put_player(id, player);
    }

    /// The players with the best scores, best first (see [`rules::Game::top_scores`]).
    pub fn top_scores(&self) -> Vec<(Uuid, &Player)> {
        self.world.top_scores(SCOREBOARD_LINES)
    }

    /// An update about ourselves. Our start position (the first one after entering)
    /// always applies. After that, an update on the world socket older than
    /// `generation - 1` is the echo of a move we have already overtaken: applying it
    /// would make our spider jump back. The player socket only carries direct answers
    /// (the start position), which always apply. An update that puts us elsewhere than
    /// we thought is the server's correction after a race: the flies we thought caught
    /// go back until the server says otherwise.
    fn receive_own(&mut self, socket: Socket, update: PlayerUpdate) {
        let Some((x, y)) = update.x.zip(update.y) else {
            return;
        };
        let own = self.own_player().cloned();
        if own.is_some() && socket == Socket::World && update.generation < self.generation - 1 {
            return;
        }
        let to = Cell::new(x, y);
        let (hearts, mut score) = match &own {
            Some(own) => (own.h, own.score),
            None => (update.h, self.world.player(self.me).map_or(0, |p| p.score)),
        };
        if let Some(from) = own.and_then(|p| p.cell) {
            self.turn(self.me, from, to);
            if from != to {
                for fly in std::mem::take(&mut self.caught) {
                    self.world.put_food(fly);
                    score = score.saturating_sub(1);
                }
            }
        }
        let player = Player {
            cell: Some(to),
            h: hearts,
            generation: update.generation,
            name: self.name.clone(),
            active: true,
            score,
        };
        self.world.put_player(self.me, player);
        // never count below what the server has seen, or our next moves would look stale
        self.generation = self.generation.max(update.generation + 1);
    }
}

/// A world with nothing on `board` yet.
fn empty_world(board: Board) -> Game {
    Game::new(Uuid::nil(), board, Vec::new(), Vec::new())
}

/// The heading after going from `from` to `to`, turning the short way round from `old`
/// (degrees clockwise from up, not wrapped); `old` when they are the same cell.
fn turn(old: i32, from: Cell, to: Cell) -> i32 {
    let towards = match ((to.x - from.x).signum(), (to.y - from.y).signum()) {
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
    // the signed difference in -180..180 (a half turn goes clockwise)
    let delta = (towards - old).rem_euclid(360);
    old + if delta > 180 { delta - 360 } else { delta }
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
        assert_eq!(s.own(), Some(Cell::new(10, 10)));
        assert_eq!(s.generation, 1);
    }

    #[test]
    fn a_step_moves_at_once_and_sends_the_current_generation() {
        let mut s = placed();
        s.apply(Action::Step { dx: 1, dy: 0 });
        assert_eq!(s.own(), Some(Cell::new(11, 10)));
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
        assert_eq!((s.own(), s.generation), (Some(Cell::new(13, 10)), 4));
        // the echo of generation 1 arrives late: older than generation - 1 = 3
        receive(&mut s, Socket::World, &player_frame(ME, 11, 10, 1));
        assert_eq!(s.own(), Some(Cell::new(13, 10)));
        receive(&mut s, Socket::World, &player_frame(ME, 12, 10, 2));
        assert_eq!(s.own(), Some(Cell::new(13, 10)));
    }

    #[test]
    fn a_batch_applies_its_updates_in_order_with_the_same_generation_rule() {
        let mut s = placed();
        for _ in 0..3 {
            s.apply(Action::Step { dx: 1, dy: 0 });
        }
        // generation is 4: in one batch, a late echo of our generation 1 (ignored),
        // another spider's two moves (the last wins), and the answer to our generation 3
        let batch = format!(
            "[{},{},{},{}]",
            player_frame(ME, 11, 10, 1),
            player_frame(OTHER, 3, 4, 1),
            player_frame(OTHER, 3, 5, 2),
            player_frame(ME, 13, 11, 3),
        );
        receive(&mut s, Socket::World, &batch);
        assert_eq!(s.own(), Some(Cell::new(13, 11)));
        assert_eq!(s.world.player(OTHER).unwrap().cell, Some(Cell::new(3, 5)));
    }

    #[test]
    fn the_update_for_the_latest_move_corrects_the_position() {
        let mut s = placed();
        s.apply(Action::Step { dx: 1, dy: 0 });
        s.apply(Action::Step { dx: 1, dy: 0 });
        // generation is 3; the server moved us somewhere else for generation 2
        receive(&mut s, Socket::World, &player_frame(ME, 11, 11, 2));
        assert_eq!(s.own(), Some(Cell::new(11, 11)));
    }

    #[test]
    fn a_snap_back_on_the_player_socket_always_applies() {
        let mut s = placed();
        s.apply(Action::Step { dx: 0, dy: 1 });
        s.apply(Action::Step { dx: 0, dy: 1 });
        s.apply(Action::Step { dx: 0, dy: 1 });
        receive(&mut s, Socket::Player, &player_frame(ME, 10, 10, 1));
        assert_eq!(s.own(), Some(Cell::new(10, 10)));
    }

    #[test]
    fn updates_about_others_always_apply_whatever_their_generation() {
        let mut s = placed();
        for _ in 0..5 {
            s.apply(Action::Step { dx: -1, dy: 0 });
        }
        receive(&mut s, Socket::World, &player_frame(OTHER, 3, 4, 9));
        receive(&mut s, Socket::World, &player_frame(OTHER, 2, 4, 0));
        assert_eq!(s.others().count(), 1);
        assert_eq!(s.world.player(OTHER).unwrap().cell, Some(Cell::new(2, 4)));
        assert_eq!(s.own(), Some(Cell::new(5, 10)));
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
        assert_eq!(s.heading(ME), 180);
        s.apply(Action::ToggleHearts);
        assert_eq!(s.heading(ME), 180, "standing still keeps the heading");
        receive(&mut s, Socket::World, &player_frame(OTHER, 3, 4, 0));
        receive(&mut s, Socket::World, &player_frame(OTHER, 2, 4, 1));
        assert_eq!(s.heading(OTHER).rem_euclid(360), 270);
    }

    #[test]
    fn hearts_toggle_is_a_player_frame_that_counts_as_a_move() {
        let mut s = placed();
        s.apply(Action::ToggleHearts);
        assert!(s.own_player().unwrap().h);
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
        assert_eq!(s.others().count(), 0);
        let flies: Vec<(Uuid, Cell)> = s.world.food.iter().map(|f| (f.id, f.cell)).collect();
        assert_eq!(flies, vec![(food.parse().unwrap(), Cell::new(1, 2))]);
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
        assert_eq!(s.others().count(), 0);
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
        assert_eq!(s.own(), None);
    }

    fn food_frame(id: Uuid, x: i32, y: i32) -> String {
        format!(
            r#"{{"messageType":"food","foodID":"{id}","payload":{{"x":{x},"y":{y},"name":"food_0000"}}}}"#
        )
    }

    const FLY: Uuid = Uuid::from_u128(0x6f1a4a5e_0000_4000_8000_0000000000f0);

    #[test]
    fn a_step_onto_a_fly_catches_it_at_once_until_the_server_places_it_anew() {
        let mut s = placed();
        receive(&mut s, Socket::Player, &food_frame(FLY, 11, 10));
        s.apply(Action::Step { dx: 1, dy: 0 });
        assert_eq!(s.own(), Some(Cell::new(11, 10)));
        assert!(s.world.food.is_empty(), "the caught fly is off the field");
        assert_eq!(s.caught.len(), 1);
        // the echo of our move, then the fly's new place, as the server publishes them
        receive(&mut s, Socket::World, &player_frame(ME, 11, 10, 1));
        receive(&mut s, Socket::World, &food_frame(FLY, 30, 3));
        assert!(s.caught.is_empty());
        assert_eq!(s.world.food_on(Cell::new(30, 3)), Some(0));
        assert_eq!(s.own(), Some(Cell::new(11, 10)));
    }

    #[test]
    fn a_lost_race_is_corrected_by_the_server_and_puts_the_fly_back() {
        let mut s = placed();
        receive(&mut s, Socket::Player, &food_frame(FLY, 11, 10));
        s.apply(Action::Step { dx: 1, dy: 0 });
        // someone we had not heard of yet got to (11, 10) first: the server refuses our
        // move (generation 1) and says where we still stand
        receive(&mut s, Socket::World, &player_frame(OTHER, 11, 10, 0));
        receive(&mut s, Socket::World, &player_frame(ME, 10, 10, 1));
        assert_eq!(s.own(), Some(Cell::new(10, 10)));
        assert_eq!(
            s.world.food_on(Cell::new(11, 10)),
            Some(0),
            "the fly is back"
        );
        assert!(s.caught.is_empty());
        assert_eq!(s.world.player_on(Cell::new(11, 10)), Some(OTHER));
        assert_eq!(s.world.player_on(Cell::new(10, 10)), Some(ME));
    }

    #[test]
    fn turns_take_the_short_way_round() {
        let mut s = placed();
        let mut headings = vec![];
        for (dx, dy) in [(-1, 0), (0, -1), (1, 0), (0, 1), (-1, 0), (-1, -1)] {
            s.apply(Action::Step { dx, dy });
            headings.push(s.heading(ME));
        }
        // west, north, east, south, west, north-west: never more than half a turn at once
        assert_eq!(headings, vec![-90, 0, 90, 180, 270, 315]);
    }

    #[test]
    fn a_board_of_850_spiders_is_kept_by_id_and_judged_against() {
        let mut s = placed();
        let mut n = 0u128;
        'fill: for y in 0..s.board().height() {
            for x in 0..s.board().width() {
                if n == 850 {
                    break 'fill;
                }
                if (x - 10).abs() <= 1 && (y - 10).abs() <= 1 {
                    continue;
                }
                n += 1;
                receive(
                    &mut s,
                    Socket::World,
                    &player_frame(Uuid::from_u128(n), x, y, 0),
                );
            }
        }
        receive(
            &mut s,
            Socket::World,
            &player_frame(Uuid::from_u128(850), 11, 10, 1),
        );
        assert_eq!(s.others().count(), 850);
        let before = s.clone();
        s.apply(Action::Step { dx: 1, dy: 0 });
        assert_eq!(s, before, "a step onto a spider is not taken");
        s.apply(Action::Step { dx: -1, dy: 0 });
        assert_eq!(s.own(), Some(Cell::new(9, 10)));
    }

    fn score_frame(id: Uuid, name: &str, score: u32) -> String {
        format!(
            r#"{{"messageType":"score","playerID":"{id}","payload":{{"name":"{name}","score":{score}}}}}"#
        )
    }

    #[test]
    fn the_scoreboard_lists_the_best_first_and_counts_our_catch_at_once() {
        let mut s = placed();
        let gone = Uuid::from_u128(77);
        receive(&mut s, Socket::Player, &score_frame(gone, "Gone", 3));
        receive(&mut s, Socket::World, &player_frame(OTHER, 3, 4, 0));
        receive(&mut s, Socket::World, &score_frame(OTHER, "n", 1));
        receive(&mut s, Socket::Player, &food_frame(FLY, 11, 10));
        s.apply(Action::Step { dx: 1, dy: 0 });
        assert_eq!(s.own_player().unwrap().score, 1, "our catch counts at once");
        // the server confirms; a late, lower frame never lowers a score
        receive(&mut s, Socket::World, &score_frame(ME, "Argiope", 1));
        receive(&mut s, Socket::World, &score_frame(OTHER, "n", 2));
        receive(&mut s, Socket::World, &score_frame(OTHER, "n", 1));
        let board: Vec<(Uuid, u32)> = s
            .top_scores()
            .iter()
            .map(|(id, p)| (*id, p.score))
            .collect();
        assert_eq!(board, vec![(gone, 3), (OTHER, 2), (ME, 1)]);
        assert_eq!(
            s.others().count(),
            1,
            "a scorer not on the field is not drawn"
        );
        // OTHER moving keeps its score
        receive(&mut s, Socket::World, &player_frame(OTHER, 3, 5, 1));
        assert_eq!(s.world.player(OTHER).unwrap().score, 2);
    }

    #[test]
    fn a_lost_race_takes_back_the_catch_from_our_score() {
        let mut s = placed();
        receive(&mut s, Socket::Player, &food_frame(FLY, 11, 10));
        s.apply(Action::Step { dx: 1, dy: 0 });
        assert_eq!(s.own_player().unwrap().score, 1);
        receive(&mut s, Socket::World, &player_frame(ME, 10, 10, 1));
        assert_eq!(s.own_player().unwrap().score, 0);
    }
}
