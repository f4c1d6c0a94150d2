//! What the page's address means: `/game/{id}` plays that game, `/game/{id}/replay?t=MS`
//! replays its history from moment `t`; any other address (`/` under `trunk serve`)
//! plays the server's default game through the reference routes.
//! The lobby itself is a page of the server's own (`edge/src/lobby/page.rs`).

use protocol::Uuid;

/// The game id in a page path `/game/{id}` (a trailing slash allowed).
pub fn game_in_path(path: &str) -> Option<Uuid> {
    path.trim_end_matches('/')
        .strip_prefix("/game/")?
        .parse()
        .ok()
}

/// The game id in a watch view's path `/game/{id}/watch` (a trailing slash allowed).
pub fn watched_in_path(path: &str) -> Option<Uuid> {
    game_in_path(path.trim_end_matches('/').strip_suffix("/watch")?)
}

/// The game in a replay page's path `/game/{id}/replay` (a trailing slash allowed).
pub fn replay_in_path(path: &str) -> Option<Uuid> {
    game_in_path(path.trim_end_matches('/').strip_suffix("/replay")?)
}

/// The moment `t` (ms since the epoch) in a page address's query (`?t=MS&...`), if
/// there is one that reads.
pub fn moment_in_query(query: &str) -> Option<i64> {
    query
        .trim_start_matches('?')
        .split('&')
        .find_map(|pair| pair.strip_prefix("t="))?
        .parse()
        .ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_game_page_path_names_its_game_and_nothing_else_does() {
        let id = Uuid::from_u128(0x6f1a4a5e_0000_4000_8000_0000000000aa);
        assert_eq!(game_in_path(&format!("/game/{id}")), Some(id));
        assert_eq!(game_in_path(&format!("/game/{id}/")), Some(id));
        for path in [
            "/",
            "",
            "/game/",
            "/game/not-a-uuid",
            "/index.html",
            "/games",
        ] {
            assert_eq!(game_in_path(path), None, "{path:?}");
        }
        assert_eq!(game_in_path(&format!("/game/{id}/extra")), None);
    }

    #[test]
    fn a_watch_path_names_its_game_and_is_no_play_path() {
        let id = Uuid::from_u128(0x6f1a4a5e_0000_4000_8000_0000000000aa);
        assert_eq!(watched_in_path(&format!("/game/{id}/watch")), Some(id));
        assert_eq!(watched_in_path(&format!("/game/{id}/watch/")), Some(id));
        assert_eq!(game_in_path(&format!("/game/{id}/watch")), None);
        for path in [
            "/watch",
            "/game/watch",
            "/game/x/watch",
            &format!("/game/{id}"),
            &format!("/game/{id}/replay"),
        ] {
            assert_eq!(watched_in_path(path), None, "{path:?}");
        }
    }

    #[test]
    fn a_replay_path_names_its_game_and_its_query_the_moment() {
        let id = Uuid::from_u128(0x6f1a4a5e_0000_4000_8000_0000000000aa);
        assert_eq!(replay_in_path(&format!("/game/{id}/replay")), Some(id));
        assert_eq!(replay_in_path(&format!("/game/{id}/replay/")), Some(id));
        assert_eq!(
            game_in_path(&format!("/game/{id}/replay")),
            None,
            "not a play page"
        );
        for path in [
            format!("/game/{id}"),
            format!("/game/{id}/watch"),
            format!("/game/{id}/replay/x"),
            "/game/nope/replay".into(),
            "/replay".into(),
        ] {
            assert_eq!(replay_in_path(&path), None, "{path:?}");
        }
        assert_eq!(moment_in_query("?t=1796812345678"), Some(1_796_812_345_678));
        assert_eq!(moment_in_query("?x=1&t=42"), Some(42));
        for query in ["", "?", "?t=", "?t=soon", "?tt=4", "?t=1.5"] {
            assert_eq!(moment_in_query(query), None, "{query:?}");
        }
    }
}
