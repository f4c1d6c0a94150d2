//! The form at the top of the page: the name the player goes by and the server to play
//! on, as typed.

/// What the player typed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Form {
    /// The name in the form, sent with every move.
    pub name: String,
    /// The server location in the form (`ws://host:port`), without a trailing slash.
    pub server: String,
}

impl Form {
    pub fn new(name: String, server: String) -> Self {
        Form { name, server }
    }

    /// The server field changed.
    pub fn set_server(&mut self, server: &str) {
        self.server = server.trim_end_matches('/').into();
    }

    /// The player pressed Enter: whether the form lets them in (a name that is not
    /// blank), the name trimmed if so.
    pub fn enter(&mut self) -> bool {
        let name = self.name.trim();
        if name.is_empty() {
            return false;
        }
        self.name = name.into();
        true
    }
}

#[cfg(test)]
mod tests {
    use crate::state::testing::*;
    use crate::state::Action;

    #[test]
    fn entering_needs_a_name_and_trims_it_and_the_server_loses_its_trailing_slash() {
        let mut s = offline();
        s.apply(Action::SetName("  ".into()));
        s.apply(Action::Enter);
        assert!(!s.in_game(), "a blank name does not enter");
        s.apply(Action::SetName(" Argiope ".into()));
        s.apply(Action::SetServer("ws://127.0.0.1:8000/".into()));
        s.apply(Action::Enter);
        assert!(s.in_game());
        assert_eq!(
            (s.form.name.as_str(), s.form.server.as_str()),
            ("Argiope", "ws://127.0.0.1:8000")
        );
    }
}
