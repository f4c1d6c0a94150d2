//! Resume tokens: which player ids of a game are bound to a secret, and which secret.
//!
//! Pure bookkeeping for the room (no IO; randomness comes in as an argument). The rules
//! it serves are in docs/protocol.md: a token is bound on an id's first entering, when
//! the client asks; once bound, the id can be entered only with it.
//!
//! Only a hash of each token is kept ([`TokenHash`]), in memory and in the store, where
//! it goes with its player's row: the binding outlives the room (a restart, an idle
//! unload, a take-over) and is forgotten with the player, and whoever reads the store
//! learns no token.

use std::collections::HashMap;
use std::fmt;

use protocol::Uuid;
use rand::Rng;
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

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

/// The SHA-256 of a token's text: what is kept of a token.
///
/// A fast hash, not a slow password KDF (argon2, bcrypt), on purpose: a KDF's cost only
/// helps a secret that can be guessed, as a password a person chose can. A token is 128
/// random bits the server drew; nobody can try a noticeable share of 2^128 candidates,
/// whatever one try costs, so a slower hash would only slow every `entering` down.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct TokenHash([u8; 32]);

impl TokenHash {
    /// The hash of `token`.
    pub fn of(token: &str) -> Self {
        TokenHash(Sha256::digest(token.as_bytes()).into())
    }

    /// The hash as stored in a CQL `blob`, or `None` when `bytes` are not 32 long.
    pub fn from_bytes(bytes: &[u8]) -> Option<Self> {
        bytes.try_into().ok().map(TokenHash)
    }

    pub fn as_bytes(&self) -> &[u8; 32] {
        &self.0
    }

    /// Whether `presented` hashes to this. In constant time, though timing could give
    /// little away here: it would tell how much of a guess's hash matches, which does
    /// not help find a token that hashes to this one.
    pub fn matches(&self, presented: &str) -> bool {
        TokenHash::of(presented).0.ct_eq(&self.0).into()
    }
}

impl fmt::Debug for TokenHash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "TokenHash({})", hex::encode(self.0))
    }
}

/// In the embedded store's JSON: 64 hex digits.
impl Serialize for TokenHash {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&hex::encode(self.0))
    }
}

impl<'de> Deserialize<'de> for TokenHash {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        let mut bytes = [0u8; 32];
        hex::decode_to_slice(&text, &mut bytes)
            .map_err(|e| serde::de::Error::custom(format!("a token hash of 64 hex digits: {e}")))?;
        Ok(TokenHash(bytes))
    }
}

/// The tokens of one game's player ids.
#[derive(Debug, Default)]
pub struct Tokens {
    /// Token hash by player id.
    bound: HashMap<Uuid, TokenHash>,
}

impl Tokens {
    /// The bindings of these (player, hash) pairs: what the store kept.
    pub fn from_hashes(bound: impl IntoIterator<Item = (Uuid, TokenHash)>) -> Self {
        Tokens {
            bound: bound.into_iter().collect(),
        }
    }

    pub fn is_bound(&self, player: Uuid) -> bool {
        self.bound.contains_key(&player)
    }

    /// Binds a fresh token (128 random bits, 32 hex digits) to `player` and returns it;
    /// only its hash is kept.
    pub fn bind(&mut self, player: Uuid, rng: &mut impl Rng) -> String {
        let token = format!("{:032x}", rng.gen::<u128>());
        self.bound.insert(player, TokenHash::of(&token));
        token
    }

    /// The hash of `player`'s token, to store with its row.
    pub fn hash(&self, player: Uuid) -> Option<TokenHash> {
        self.bound.get(&player).copied()
    }

    /// Checks `presented` against `player`'s token.
    pub fn check(&self, player: Uuid, presented: Option<&str>) -> Check {
        match (self.bound.get(&player), presented) {
            (None, _) => Check::Unbound,
            (Some(hash), Some(p)) if hash.matches(p) => Check::Valid,
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

    #[test]
    fn only_the_sha_256_of_a_token_is_kept() {
        // the FIPS 180-2 example: SHA-256("abc")
        let abc = "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad";
        assert_eq!(hex::encode(TokenHash::of("abc").as_bytes()), abc);
        let mut tokens = Tokens::default();
        let ana = Uuid::from_u128(1);
        let token = tokens.bind(ana, &mut StdRng::seed_from_u64(2));
        let hash = tokens.hash(ana).expect("bound");
        assert_eq!(hash, TokenHash::of(&token));
        assert!(hash.matches(&token));
        assert!(!hash.matches(&token.to_uppercase()));
        assert!(!format!("{hash:?}").contains(&token));
        assert_eq!(TokenHash::from_bytes(hash.as_bytes()), Some(hash));
        assert_eq!(TokenHash::from_bytes(&[0; 31]), None);
    }

    #[test]
    fn a_hash_goes_into_json_as_hex_and_back_and_bad_text_is_refused() {
        let hash = TokenHash::of("t");
        let json = serde_json::to_string(&hash).unwrap();
        assert_eq!(json, format!("\"{}\"", hex::encode(hash.as_bytes())));
        assert_eq!(serde_json::from_str::<TokenHash>(&json).unwrap(), hash);
        for bad in [
            "\"abc\"",
            "\"zz\"",
            "12",
            &format!("\"{}00\"", &json[1..65]),
        ] {
            assert!(serde_json::from_str::<TokenHash>(bad).is_err(), "{bad}");
        }
    }
}
