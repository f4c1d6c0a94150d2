//! `objects_by_game_id` rows as the store binds and reads them: an object to the
//! prepared upsert's values (with its TTL), a row read back to an object.

use protocol::Uuid;
use scylla::value::MaybeUnset;

use game_core::store::{ObjectKind, StoredObject};

/// One `objects_by_game_id` row as bound to the prepared upsert.
pub type UpsertValues<'a> = (
    Uuid,
    &'a str,
    Uuid,
    bool,
    i32,
    i32,
    MaybeUnset<bool>,
    MaybeUnset<i32>,
    &'a str,
    i64,
    i32,
);

/// One `objects_by_game_id` row as read back. Every regular column is nullable in CQL
/// (and rows written by other clients may leave some out).
pub type ObjectRow = (
    String,
    Uuid,
    Option<bool>,
    Option<i32>,
    Option<i32>,
    Option<bool>,
    Option<i32>,
    Option<String>,
    Option<i32>,
);

/// The TTL to write `object` with at `now_ms`, in seconds: 0 (none) for a row that is
/// kept, else the time left to its expiry, at least 1 s (0 would mean "keep forever").
pub fn ttl_secs(object: &StoredObject, now_ms: i64) -> i32 {
    match object.expires_ms {
        None => 0,
        Some(at) => ((at - now_ms).max(0) as u64)
            .div_ceil(1000)
            .clamp(1, i32::MAX as u64) as i32,
    }
}

pub fn upsert_values(
    game: Uuid,
    object: &StoredObject,
    timestamp: i64,
    now_ms: i64,
) -> UpsertValues<'_> {
    // Players carry hearts and a move counter; bricks and food leave those cells unset
    // rather than writing nulls (tombstones) into them.
    let (h, generation) = match object.kind {
        ObjectKind::Player => (
            MaybeUnset::Set(object.h),
            MaybeUnset::Set(object.generation),
        ),
        ObjectKind::Brick | ObjectKind::Food => (MaybeUnset::Unset, MaybeUnset::Unset),
    };
    (
        game,
        object.kind.as_str(),
        object.object_id,
        object.active,
        object.x,
        object.y,
        h,
        generation,
        &object.name,
        timestamp,
        ttl_secs(object, now_ms),
    )
}

/// A row read back at `now_ms` as an object; the TTL left on it becomes its expiry.
pub fn to_object(row: ObjectRow, now_ms: i64) -> Result<StoredObject, String> {
    let (kind, object_id, active, x, y, h, generation, name, ttl) = row;
    let kind = ObjectKind::parse(&kind).ok_or_else(|| format!("unknown kind {kind:?}"))?;
    let (Some(x), Some(y)) = (x, y) else {
        return Err(format!("{} {object_id} has no position", kind.as_str()));
    };
    Ok(StoredObject {
        kind,
        object_id,
        active: active.unwrap_or(true),
        x,
        y,
        h: h.unwrap_or(false),
        generation: generation.unwrap_or(0),
        name: name.unwrap_or_default(),
        // from scores_by_game_id and tokens_by_game_id, joined in by `load`
        score: 0,
        expires_ms: ttl.map(|secs| now_ms + i64::from(secs) * 1000),
        token_hash: None,
    })
}
