use super::objects::ttl_secs;
use super::*;
use game_core::store::ObjectKind;

#[test]
fn rows_read_back_become_objects_and_half_rows_are_refused() {
    let id = Uuid::from_u128(7);
    let brick = (
        "brick".to_string(),
        id,
        None,
        Some(3),
        Some(4),
        None,
        None,
        Some("brick_0000".to_string()),
        None,
    );
    assert_eq!(
        to_object(brick.clone(), 5_000),
        Ok(StoredObject {
            kind: ObjectKind::Brick,
            object_id: id,
            active: true,
            x: 3,
            y: 4,
            h: false,
            generation: 0,
            name: "brick_0000".into(),
            score: 0,
            expires_ms: None,
            token_hash: None,
        })
    );
    let mut gone = brick.clone();
    (gone.0, gone.8) = ("player".into(), Some(30));
    assert_eq!(to_object(gone, 5_000).unwrap().expires_ms, Some(35_000));
    let mut no_position = brick.clone();
    no_position.3 = None;
    assert!(to_object(no_position, 5_000).is_err());
    let mut alien = brick;
    alien.0 = "dragon".into();
    assert!(to_object(alien, 5_000).is_err());
}

#[test]
fn a_row_is_written_with_the_time_left_to_its_expiry() {
    let row = |expires_ms| StoredObject {
        kind: ObjectKind::Player,
        object_id: Uuid::from_u128(1),
        active: false,
        x: 0,
        y: 0,
        h: false,
        generation: 0,
        name: "p".into(),
        score: 0,
        expires_ms,
        token_hash: None,
    };
    assert_eq!(ttl_secs(&row(None), 1_000), 0, "kept: no TTL");
    assert_eq!(ttl_secs(&row(Some(61_000)), 1_000), 60);
    assert_eq!(ttl_secs(&row(Some(1_500)), 1_000), 1, "rounded up");
    assert_eq!(ttl_secs(&row(Some(0)), 1_000), 1, "past: gone within 1 s");
}
