//! The chat: the last lines said in the game, and the line we say.

use std::collections::VecDeque;

use protocol::{ChatFrom, ChatLine, Uuid};

/// How many chat lines the page keeps.
pub const CHAT_LINES: usize = 10;

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

/// The chat lines shown.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Chat {
    /// The last [`CHAT_LINES`] chat lines, oldest first.
    pub lines: VecDeque<ChatEntry>,
}

impl Chat {
    /// A line someone said (`player_id`), which is ours if `me` said it.
    pub fn receive(&mut self, me: Uuid, player_id: ChatFrom, line: ChatLine) {
        self.lines.push_back(ChatEntry {
            own: player_id == ChatFrom::Player(me),
            server: player_id == ChatFrom::Server,
            id: line.id,
            name: line.name,
            text: line.text,
        });
        while self.lines.len() > CHAT_LINES {
            self.lines.pop_front();
        }
    }
}

/// The line to send when `name` says `text`: none for a blank one.
pub fn say(id: String, name: &str, text: &str) -> Option<ChatLine> {
    let text = text.trim();
    (!text.is_empty()).then(|| ChatLine {
        id,
        name: name.into(),
        text: text.into(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::state::testing::*;
    use crate::state::Socket;

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
        assert_eq!(s.chat.lines.len(), CHAT_LINES);
        assert_eq!(s.chat.lines[0].text, "line 2");
        assert!(s.chat.lines[0].own);
        assert!(!s.chat.lines[1].own);
        receive(
            &mut s,
            Socket::Player,
            r#"{"messageType":"chat","playerID":"_api_server_","payload":{"id":"s","name":"** API **","text":"Good catch!"}}"#,
        );
        assert!(s.chat.lines.back().unwrap().server);
    }
}
