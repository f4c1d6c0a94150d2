//! What our players have beyond the reference's row, in tables of our own beside
//! `objects_by_game_id` (which keeps the reference's shape): the scoreboard's count
//! (`scores_by_game_id`) and the resume token's hash (`tokens_by_game_id`). Each is
//! written in the same [`Store::write`](game_core::store::Store::write) as its player's row,
//! with the same timestamp and TTL, so it expires with the player; `load` joins them
//! onto the player rows.

use std::collections::HashMap;

use protocol::Uuid;

use super::objects::ttl_secs;
use game_core::store::{ObjectKind, StoredObject};
use game_core::tokens::TokenHash;

/// One `scores_by_game_id` row as bound to its upsert.
pub type ScoreValues = (Uuid, Uuid, i32, i64, i32);

/// One `tokens_by_game_id` row as bound to its upsert.
pub type TokenValues<'a> = (Uuid, Uuid, &'a [u8], i64, i32);

/// The score rows of `batch`: a player who caught nothing has none (scores only grow).
pub fn score_values(
    game: Uuid,
    batch: &[StoredObject],
    timestamp: i64,
    now_ms: i64,
) -> Vec<ScoreValues> {
    players(batch)
        .filter(|o| o.score > 0)
        .map(|o| {
            let score = i32::try_from(o.score).unwrap_or(i32::MAX);
            (game, o.object_id, score, timestamp, ttl_secs(o, now_ms))
        })
        .collect()
}

/// The token rows of `batch`: one for each player bound to a token, written again with
/// every row of the player so that its TTL stays the row's.
pub fn token_values(
    game: Uuid,
    batch: &[StoredObject],
    timestamp: i64,
    now_ms: i64,
) -> Vec<TokenValues<'_>> {
    players(batch)
        .filter_map(|o| {
            let hash = o.token_hash.as_ref()?;
            let ttl = ttl_secs(o, now_ms);
            Some((game, o.object_id, &hash.as_bytes()[..], timestamp, ttl))
        })
        .collect()
}

fn players(batch: &[StoredObject]) -> impl Iterator<Item = &StoredObject> {
    batch.iter().filter(|o| o.kind == ObjectKind::Player)
}

/// Puts each player's score and token hash, as read from our tables, onto its row. A
/// score or hash without a player row is left out: its player is forgotten. A hash
/// that is not 32 bytes long (written by something else) binds nothing, loudly.
pub fn join(
    objects: &mut [StoredObject],
    scores: &HashMap<Uuid, Option<i32>>,
    tokens: &HashMap<Uuid, Option<Vec<u8>>>,
) {
    for object in objects.iter_mut().filter(|o| o.kind == ObjectKind::Player) {
        let id = object.object_id;
        object.score = scores.get(&id).copied().flatten().unwrap_or(0).max(0) as u32;
        object.token_hash = match tokens.get(&id) {
            Some(Some(bytes)) => TokenHash::from_bytes(bytes).or_else(|| {
                tracing::warn!(player = %id, bytes = bytes.len(), "ignoring a token hash of the wrong size");
                None
            }),
            _ => None,
        };
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(kind: ObjectKind, n: u128, score: u32, token: Option<&str>) -> StoredObject {
        StoredObject {
            kind,
            object_id: Uuid::from_u128(n),
            active: false,
            x: 0,
            y: 0,
            h: false,
            generation: 0,
            name: "p".into(),
            score,
            expires_ms: Some(61_000),
            token_hash: token.map(TokenHash::of),
        }
    }

    #[test]
    fn scores_and_token_hashes_go_out_with_their_players_ttl() {
        let game = Uuid::from_u128(9);
        let batch = [
            row(ObjectKind::Player, 1, 2, Some("one")),
            row(ObjectKind::Player, 2, 0, None),
            row(ObjectKind::Food, 3, 5, Some("not a player's")),
        ];
        let one = Uuid::from_u128(1);
        assert_eq!(
            score_values(game, &batch, 77, 1_000),
            vec![(game, one, 2, 77, 60)]
        );
        let hash = TokenHash::of("one");
        assert_eq!(
            token_values(game, &batch, 77, 1_000),
            vec![(game, one, &hash.as_bytes()[..], 77, 60)],
            "the hash, never the token, with the row's timestamp and TTL"
        );
    }

    #[test]
    fn a_load_puts_scores_and_hashes_back_on_their_players() {
        let mut objects = [
            row(ObjectKind::Player, 1, 0, None),
            row(ObjectKind::Player, 2, 0, None),
            row(ObjectKind::Player, 3, 0, None),
            row(ObjectKind::Brick, 4, 0, None),
        ];
        let [one, two, three, four] = [1, 2, 3, 4].map(Uuid::from_u128);
        let scores = HashMap::from([(one, Some(3)), (two, None), (four, Some(9))]);
        let hash = TokenHash::of("one");
        let tokens = HashMap::from([
            (one, Some(hash.as_bytes().to_vec())),
            (three, Some(vec![1, 2, 3])),
            (four, Some(hash.as_bytes().to_vec())),
        ]);
        join(&mut objects, &scores, &tokens);
        let got: Vec<(u32, Option<TokenHash>)> =
            objects.iter().map(|o| (o.score, o.token_hash)).collect();
        assert_eq!(
            got,
            vec![(3, Some(hash)), (0, None), (0, None), (0, None)],
            "a short hash binds nothing; a brick has neither"
        );
    }
}
