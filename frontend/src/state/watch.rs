//! The watch view (`/game/{id}/watch`, docs/protocol.md "Spectators"): the page follows
//! a game without playing it. Its socket is a spectator's (`/ws/game/{id}/watch`),
//! which is briefed on opening and takes no frames; so in this mode the reducer opens
//! the link at once (no form, no `entering`) and queues nothing to send, whatever the
//! keys, the field or the chat ask. Everything else (the brief, the batched stream,
//! resuming after a drop with `?after=`) is the player's path unchanged.

/// What the page does with its game.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Mode {
    /// Plays: the form, the controls, moves and chat.
    #[default]
    Play,
    /// Watches: the field, the scoreboard and the chat, read-only.
    Watch,
}

impl Mode {
    /// Whether the page may send frames to the server in this mode.
    pub fn sends(self) -> bool {
        self == Mode::Play
    }
}

#[cfg(test)]
mod tests {
    use super::Mode;
    use crate::state::testing::*;
    use crate::state::{Action, GameState, Socket};
    use protocol::Cell;

    /// A page watching, its socket open.
    fn watching() -> GameState {
        let mut s = offline();
        s.apply(Action::Watch);
        assert!(s.in_game(), "watching opens the link at once");
        open(&mut s);
        s
    }

    #[test]
    fn a_watching_page_is_briefed_and_follows_the_stream_without_sending_anything() {
        let mut s = watching();
        assert_eq!(s.mode, Mode::Watch);
        // the brief: direct frames, no own position among them
        receive(&mut s, Socket::Player, &player_frame(OTHER, 3, 4, 0));
        receive(&mut s, Socket::Player, &food_frame(FLY, 5, 5));
        receive(&mut s, Socket::Player, &score_frame(OTHER, "Ana", 2));
        assert_eq!(s.others().count(), 1);
        assert_eq!(s.own(), None, "a spectator has no spider");
        // the stream
        receive(&mut s, Socket::World, &player_frame(OTHER, 4, 4, 1));
        assert_eq!(
            s.world.known.player(OTHER).unwrap().cell,
            Some(Cell::new(4, 4))
        );
        // keys, the field's swipes, hearts, the chat and the form: nothing is sent
        s.apply(Action::Step { dx: 1, dy: 0 });
        s.apply(Action::ToggleHearts);
        s.apply(Action::Chat {
            id: "c1".into(),
            text: "hello".into(),
        });
        s.apply(Action::Enter);
        s.apply(Action::Leave);
        assert!(sent(&s).is_empty(), "sent {:?}", sent(&s));
        assert!(s.in_game(), "still watching");
    }

    #[test]
    fn a_watching_page_resumes_after_a_drop_as_a_player_does() {
        let mut s = watching();
        receive(&mut s, Socket::World, "[{\"messageType\":\"player\",\"playerID\":\"6f1a4a5e-0000-4000-8000-000000000002\",\"payload\":{\"x\":3,\"y\":4,\"h\":false,\"generation\":1,\"name\":\"n\"},\"seq\":7}]");
        s.apply(Action::Dropped {
            session: s.link.session,
            reason: None,
        });
        s.apply(Action::Retry);
        assert_eq!(s.link.resuming, Some(7), "the new socket names update 7");
        open(&mut s);
        assert!(sent(&s).is_empty(), "no entering on a watching socket");
        assert_eq!(
            s.others().count(),
            1,
            "the board is kept until the socket says"
        );
    }
}
