//! The one reducer: every piece of game state the page shows, and every rule for how a
//! user intent or a frame from the server changes it.
//!
//! Nothing here touches the browser. Socket callbacks, key handlers and timers only
//! dispatch an [`Action`]; the reducer always works on the *current* state, which is what
//! keeps the generation counter honest (a value captured by a socket callback would go
//! stale after the first move). Frames to send are not sent from here either: they are
//! queued in [`GameState::outbox`] and the app's sending effect writes them to the socket.
//!
//! # Layout
//!
//! [`GameState`] is one `Reducible` with one [`Action`] enum; [`GameState::apply`] routes
//! each action, and each server frame, to the sub-states, plain structs that own their
//! part and the rules for changing it:
//!
//! - [`form`]: the name and the server location the player typed.
//! - [`link`]: the link with the server: status, session, backoff, the server's bus
//!   status and our resume token.
//! - [`world`]: the world as the page knows it, with our own moves predicted
//!   (`world/prediction`) and the spiders' headings (`world/heading`).
//! - [`chat`]: the last chat lines.
//! - [`outbox`]: frames waiting to be written to the socket.
//! - [`debug`]: the last frames sent and received, as text, for the status bar.
//! - [`watch`]: the page's mode: playing, or watching (read-only, sends nothing).
//!
//! A sub-state never reaches into another: what one needs of another (our id, our
//! name) is passed in, and what one asks of the reducer (a frame to send, a world to
//! clear) is returned. The tests sit beside what they test; they all drive the whole
//! reducer with actions and frames, as the page does (helpers in `testing`).
//!
//! This module compiles natively too, so `cargo test -p frontend` runs its tests.

pub mod chat;
pub mod debug;
pub mod form;
pub mod link;
pub mod outbox;
pub mod replay;
pub mod watch;
pub mod world;

#[cfg(test)]
mod testing;

use protocol::{Board, Cell, ClientMessage, Entering, ServerMessage, Uuid};
use rules::Player;

use chat::Chat;
use debug::LastFrames;
use form::Form;
use link::{Link, Status};
use outbox::Outbox;
use replay::Replay;
use watch::Mode;
use world::World;

/// Which stream of our one socket (`/ws/one/{id}`, docs/protocol.md) a frame came on.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Socket {
    /// Replies meant for us alone, as the reference's player socket carries them: one
    /// JSON object per message.
    Player,
    /// Everything published to every player, as a batched world socket carries it: a
    /// JSON array per message.
    World,
}

impl Socket {
    /// The stream a message of the one socket belongs to: world batches are arrays,
    /// direct replies objects.
    pub fn of(text: &str) -> Socket {
        if text.trim_start().starts_with('[') {
            Socket::World
        } else {
            Socket::Player
        }
    }
}

/// Everything the page knows and shows.
#[derive(Clone, Debug, PartialEq)]
pub struct GameState {
    /// Our player id, drawn once per page load; kept across reconnections so the server
    /// gives us our spider back.
    pub me: Uuid,
    /// What the player typed in the form.
    pub form: Form,
    /// Whether sockets are wanted, open or being retried, and what the server told us
    /// about the link.
    pub link: Link,
    /// The world as the server last described it, with our own moves on top.
    pub world: World,
    /// The chat lines shown.
    pub chat: Chat,
    /// Frames waiting to be written to the socket.
    pub outbox: Outbox,
    /// The last frames sent and received, for the status bar.
    pub debug: LastFrames,
    /// Playing, or watching the game (its socket then a spectator's, sending nothing).
    pub mode: Mode,
    /// A replay's moment and history; off on a page that plays.
    pub replay: Replay,
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
    /// The page is the watch view: follow the game without playing (`state::watch`).
    Watch,
    /// The player pressed Leave.
    Leave,
    /// The socket of session `session` opened.
    Opened {
        /// The session the socket belongs to.
        session: u32,
    },
    /// A text message arrived on the socket of session `session`.
    Received {
        /// The session the socket belongs to.
        session: u32,
        /// The message, as received: a direct reply, or a batch of world updates.
        text: String,
    },
    /// A socket of session `session` closed or failed.
    Dropped {
        /// The session the socket belongs to.
        session: u32,
        /// Why, when the server said so in its close frame (e.g. a cluster's owner at
        /// its cap: "try again later"); shown while the page waits to retry.
        reason: Option<String>,
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
    /// Something happened to the replay (a replay page only).
    Replay(replay::Event),
}

impl GameState {
    pub fn new(me: Uuid, name: String, server: String) -> Self {
        GameState {
            me,
            form: Form::new(name, server),
            link: Link::default(),
            world: World::new(Board::STANDARD),
            chat: Chat::default(),
            outbox: Outbox::default(),
            debug: LastFrames::default(),
            mode: Mode::Play,
            replay: Replay::default(),
        }
    }

    /// Whether the player is in a game (connected or trying to be).
    pub fn in_game(&self) -> bool {
        self.link.in_game()
    }

    /// Our spider, once the server placed it.
    pub fn own_player(&self) -> Option<&Player> {
        self.world.own_player(self.me)
    }

    /// Where our spider stands: `None` until the server placed it.
    pub fn own(&self) -> Option<Cell> {
        self.own_player().and_then(|p| p.cell)
    }

    /// Every other spider with a position, in no particular order.
    pub fn others(&self) -> impl Iterator<Item = (Uuid, &Player)> {
        self.world.others(self.me)
    }

    /// Applies one action.
    pub fn apply(&mut self, action: Action) {
        match action {
            Action::SetName(name) => self.form.name = name,
            Action::SetServer(server) => self.form.set_server(&server),
            Action::Watch => {
                if !self.in_game() {
                    self.mode = Mode::Watch;
                    self.link.enter();
                    self.forget_world();
                }
            }
            Action::Enter => {
                if self.mode.sends() && !self.in_game() && self.form.enter() {
                    self.link.enter();
                    self.forget_world();
                }
            }
            Action::Leave => {
                if !self.in_game() || !self.mode.sends() {
                    return;
                }
                if self.link.status == Status::Open {
                    self.send(ClientMessage::Leaving {
                        payload: Entering::named(self.form.name.clone()),
                    });
                }
                self.link.status = Status::Offline;
                self.forget_world();
            }
            Action::Opened { session } => {
                // a spectator's socket is briefed on opening, and takes no frames
                if self.link.opened(session) && self.mode.sends() {
                    let payload = self.link.entering(&self.form.name);
                    self.send(ClientMessage::Entering { payload });
                }
            }
            Action::Received { session, text } => {
                if !self.link.current(session) {
                    return;
                }
                // a batch of the world stream: its updates in order, each as if it had
                // come alone
                let socket = Socket::of(&text);
                let messages = crate::wire::parse_numbered(&text);
                if self.link.resuming.take().is_some() {
                    // the first message after naming our last update: a stream that
                    // resumed says so first; otherwise a brief comes, onto a clear world
                    let resumed = socket == Socket::World
                        && matches!(messages.first(), Some((ServerMessage::Resumed { .. }, _)));
                    if !resumed {
                        self.forget_world();
                    }
                }
                for (message, seq) in messages {
                    if socket == Socket::World && seq.is_some() {
                        self.link.seen = seq;
                    }
                    self.receive(socket, message);
                }
                self.debug.last_received = text;
            }
            Action::Dropped { session, reason } => self.link.dropped(session, reason),
            Action::Retry => {
                // the new socket names the last update we saw, and the server resumes
                // our world stream after it if it still can; else it briefs us again on
                // entering (the world is cleared at the first message: `Received`)
                if self.link.retry() {
                    match self.link.seen {
                        Some(seen) => self.link.resuming = Some(seen),
                        None => self.world.clear(),
                    }
                }
            }
            Action::Unreachable => self.link.unreachable(),
            Action::Step { dx, dy } => {
                if self.link.status == Status::Open {
                    if self.world.step(self.me, dx, dy) {
                        self.send_own_move();
                    }
                }
            }
            Action::ToggleHearts => {
                if self.world.toggle_hearts(self.me) {
                    self.send_own_move();
                }
            }
            Action::Chat { id, text } => {
                if self.link.status == Status::Open {
                    if let Some(payload) = chat::say(id, &self.form.name, &text) {
                        self.send(ClientMessage::Chat { payload });
                    }
                }
            }
            Action::Replay(event) => {
                // the replay's frames change the world as the live stream's do
                if let Some(draw) = self.replay.apply(event) {
                    if draw.clear {
                        self.world.clear();
                        self.chat = Chat::default();
                    }
                    for frame in draw.frames {
                        self.receive(Socket::World, frame);
                    }
                }
            }
        }
    }

    /// Hands one server frame to the sub-state it is about.
    fn receive(&mut self, socket: Socket, message: ServerMessage) {
        match message {
            ServerMessage::Geometry { payload } => {
                self.world.set_board(Board::from(payload));
                // a brief is arriving: the connection works, so the backoff starts over
                self.link.attempts = 0;
            }
            ServerMessage::Player { player_id, payload } if player_id == self.me => self
                .world
                .receive_own(self.me, &self.form.name, socket, payload),
            ServerMessage::Player { player_id, payload } => {
                self.world.receive_other(player_id, payload)
            }
            ServerMessage::Brick { payload } => self.world.put_brick(payload),
            ServerMessage::Food { food_id, payload } => self.world.put_food(food_id, payload),
            ServerMessage::Leaving { player_id, .. } if player_id != self.me => {
                self.world.remove(player_id)
            }
            // only a stale echo of our own leaving: we are still here
            ServerMessage::Leaving { .. } => {}
            ServerMessage::Score { player_id, payload } => self.world.score(player_id, payload),
            ServerMessage::Chat { player_id, payload } => {
                self.chat.receive(self.me, player_id, payload)
            }
            ServerMessage::Status { payload } => self.link.bus_ok = payload.bus_ok,
            ServerMessage::Token { payload } => self.link.token = Some(payload.token),
            // our world stream resumed where it broke: no brief comes, the connection
            // works, so the backoff starts over
            ServerMessage::Resumed { .. } => self.link.attempts = 0,
            // the reducer never sends what the server would reject, so there is nothing
            // for the player to act on; the frame still shows in the status bar
            ServerMessage::Error { .. } => {}
        }
    }

    /// Clears the world for a brief; the updates seen before it count no more.
    fn forget_world(&mut self) {
        self.world.clear();
        self.link.seen = None;
        self.link.resuming = None;
    }

    /// Tells the server where our spider now stands, counting the move.
    fn send_own_move(&mut self) {
        if let Some(payload) = self.world.own_move(self.me, &self.form.name) {
            self.send(ClientMessage::Player { payload });
        }
    }

    /// Queues a frame for the socket; nothing while watching (a spectator's socket
    /// is closed by the first frame it gets).
    fn send(&mut self, message: ClientMessage) {
        if !self.mode.sends() {
            return;
        }
        let text = crate::wire::encode(&message);
        self.outbox.push(text.clone());
        self.debug.last_sent = text;
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
    use super::testing::*;
    use super::*;

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
        assert_eq!(
            s.world.known.player(OTHER).unwrap().cell,
            Some(Cell::new(3, 5))
        );
    }

    /// `frame` as an update of the batched stream, numbered `seq`.
    fn numbered(frame: &str, seq: u64) -> String {
        format!("{},\"seq\":{seq}}}", &frame[..frame.len() - 1])
    }

    /// A state placed, with another spider seen in updates 41 and 42, whose socket
    /// then dropped and was opened again after the backoff.
    fn dropped_after_42() -> GameState {
        let mut s = placed();
        let batch = format!(
            "[{},{}]",
            numbered(&player_frame(OTHER, 3, 4, 1), 41),
            numbered(&player_frame(OTHER, 3, 5, 2), 42)
        );
        receive(&mut s, Socket::World, &batch);
        assert_eq!(s.link.seen, Some(42));
        s.apply(Action::Dropped {
            session: s.link.session,
            reason: None,
        });
        s.apply(Action::Retry);
        s
    }

    #[test]
    fn a_reconnection_names_the_last_update_and_a_resumed_stream_keeps_the_world() {
        let mut s = dropped_after_42();
        assert_eq!(s.link.resuming, Some(42), "the new socket names update 42");
        assert_eq!(s.others().count(), 1, "the world is kept meanwhile");
        open(&mut s);
        // the stream resumed: what we missed, then our own position (no brief)
        let resumed = format!(
            r#"[{{"messageType":"resumed","payload":{{"after":42}}}},{}]"#,
            numbered(&player_frame(OTHER, 4, 5, 3), 43)
        );
        receive(&mut s, Socket::World, &resumed);
        receive(&mut s, Socket::Player, &player_frame(ME, 10, 10, 0));
        assert_eq!(
            s.world.known.player(OTHER).unwrap().cell,
            Some(Cell::new(4, 5))
        );
        assert_eq!(s.own(), Some(Cell::new(10, 10)));
        assert_eq!((s.link.seen, s.link.resuming), (Some(43), None));
        assert_eq!(
            s.link.attempts, 0,
            "the connection works: the backoff starts over"
        );
    }

    #[test]
    fn a_stream_that_did_not_resume_clears_the_world_for_the_brief() {
        let mut s = dropped_after_42();
        open(&mut s);
        // the server no longer had update 42: its first message is no `resumed`
        receive(
            &mut s,
            Socket::World,
            &numbered(&player_frame(ME, 11, 11, 0), 900),
        );
        assert_eq!(s.others().count(), 0, "the world was cleared");
        assert_eq!((s.link.seen, s.link.resuming), (Some(900), None));
        // the brief fills it again
        receive(&mut s, Socket::Player, &player_frame(OTHER, 7, 7, 2));
        assert_eq!(s.others().count(), 1);
        // leaving forgets the numbers: the next game starts with a brief
        s.apply(Action::Leave);
        assert_eq!(s.link.seen, None);
    }

    #[test]
    fn a_direct_reply_about_us_applies_where_the_same_frame_in_a_batch_is_stale() {
        let mut s = placed();
        for _ in 0..3 {
            s.apply(Action::Step { dx: 1, dy: 0 });
        }
        // an object is a direct reply (a snap-back): it always applies
        s.apply(Action::Received {
            session: s.link.session,
            text: player_frame(ME, 10, 11, 0),
        });
        assert_eq!(s.own(), Some(Cell::new(10, 11)));
        // the same kind of frame in an array is a world update older than our
        // generation - 1: stale, it does not move us back
        s.apply(Action::Received {
            session: s.link.session,
            text: format!("[{}]", player_frame(ME, 12, 10, 0)),
        });
        assert_eq!(s.own(), Some(Cell::new(10, 11)));
    }
}
