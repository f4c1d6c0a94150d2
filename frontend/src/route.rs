//! What the page's address means: `/game/{id}` plays that game; any other address (`/`
//! under `trunk serve`) plays the server's default game through the reference routes.
//! The lobby itself is a page of the server's own (`edge/src/lobby/page.rs`).

use protocol::Uuid;

/// The game id in a page path `/game/{id}` (a trailing slash allowed).
pub fn game_in_path(path: &str) -> Option<Uuid> {
    path.trim_end_matches('/')
        .strip_prefix("/game/")?
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
}
