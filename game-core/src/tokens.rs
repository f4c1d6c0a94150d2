//! Resume tokens: which player ids of a game are bound to a secret, and which secret.
//!
//! Pure bookkeeping for the room (no IO; randomness comes in as an argument). The rules
//! it serves are in docs/protocol.md: a token is bound on an id's first entering, when
//! the client asks; once bound, the id can be entered only with it.

use std::collections::HashMap;

use protocol::Uuid;
use rand::Rng;

/// What a presented token says about a player id.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Check {
    /// The id has no token: anyone may use it, as in the reference.
    Unbound,
    /// The id has a token and this is it.
    Valid,
    /// The id has a token and this is not it (or none was presented).
    Invalid,
}

/// The tokens of one game's player ids.
#[derive(Debug, Default)]
pub struct Tokens {
    /// Token by player id.
    bound: HashMap<Uuid, String>,
}

impl Tokens {
    pub fn is_bound(&self, player: Uuid) -> bool {
        self.bound.contains_key(&player)
    }

    /// Binds a fresh token (128 random bits, 32 hex digits) to `player` and returns it.
    pub fn bind(&mut self, player: Uuid, rng: &mut impl Rng) -> String {
        let token = format!("{:032x}", rng.gen::<u128>());
        self.bound.insert(player, token.clone());
        token
    }

    /// Checks `presented` against `player`'s token.
    pub fn check(&self, player: Uuid, presented: Option<&str>) -> Check {
        match (self.bound.get(&player), presented) {
            (None, _) => Check::Unbound,
            (Some(token), Some(p)) if token.as_bytes() == p.as_bytes() => Check::Valid,
            (Some(_), _) => Check::Invalid,
        }
    }

    /// Forgets `player`'s token (the player was pruned).
    pub fn forget(&mut self, player: Uuid) {
        self.bound.remove(&player);
    }

    /// How many ids are bound.
    pub fn len(&self) -> usize {
        self.bound.len()
    }

    pub fn is_empty(&self) -> bool {
        self.bound.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::{rngs::StdRng, SeedableRng};

    #[test]
    fn a_bound_id_takes_only_its_own_token() {
        let mut rng = StdRng::seed_from_u64(1);
        let mut tokens = Tokens::default();
        let (ana, bob) = (Uuid::from_u128(1), Uuid::from_u128(2));
        assert_eq!(tokens.check(ana, None), Check::Unbound);
        let token = tokens.bind(ana, &mut rng);
        assert_eq!(token.len(), 32);
        assert!(token.chars().all(|c| c.is_ascii_hexdigit()));
        assert_eq!(tokens.check(ana, Some(&token)), Check::Valid);
        assert_eq!(tokens.check(ana, None), Check::Invalid);
        assert_eq!(tokens.check(ana, Some("0")), Check::Invalid);
        assert_eq!(tokens.check(bob, Some(&token)), Check::Unbound);
        assert_ne!(tokens.bind(bob, &mut rng), token, "tokens differ");
        tokens.forget(ana);
        assert_eq!(tokens.check(ana, Some(&token)), Check::Unbound);
        assert_eq!(tokens.len(), 1);
    }
}
