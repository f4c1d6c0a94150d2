//! The limits on clients (`--allowed-origins`, `--max-sockets*`, `--*-limit`,
//! `--flood-ban-secs`), checked
//! by `ws::guard`.

use super::rate::Rate;

/// Limits on clients; every one a flag and a `DRAPETISCA_*` variable.
#[derive(Clone, Debug, clap::Args)]
pub struct GuardOptions {
    /// Origins (scheme://host[:port], comma-separated) whose pages may open the
    /// WebSockets, besides the server's own; `*` allows any. A handshake without an
    /// Origin header (not a browser) is always allowed
    #[arg(
        long,
        env = "DRAPETISCA_ALLOWED_ORIGINS",
        value_delimiter = ',',
        default_value = "http://127.0.0.1:8080,http://localhost:8080"
    )]
    pub allowed_origins: Vec<String>,

    /// Most WebSockets open at once, in all (a player uses two)
    #[arg(long, env = "DRAPETISCA_MAX_SOCKETS", default_value_t = 10_000)]
    pub max_sockets: usize,

    /// Most WebSockets open at once from one client address (IPv6: one /64)
    #[arg(
        long,
        env = "DRAPETISCA_MAX_SOCKETS_PER_ADDRESS",
        default_value_t = 128
    )]
    pub max_sockets_per_address: usize,

    /// Most players one game holds: those in it and those gone for less than
    /// --prune-players-after-secs. A new player beyond it makes the game forget the
    /// longest gone; when all are in the game, its `entering` is refused (the standard
    /// board has about 870 free cells)
    #[arg(long, env = "DRAPETISCA_MAX_PLAYERS_PER_GAME", default_value_t = 850)]
    pub max_players_per_game: usize,

    /// Moves one player socket may send: RATE a second, bursts of up to BURST, as
    /// RATE/BURST (or off)
    #[arg(long, env = "DRAPETISCA_MOVE_LIMIT", default_value = "40/80")]
    pub move_limit: Rate,

    /// Chat lines one player socket may send, as RATE/BURST (or off)
    #[arg(long, env = "DRAPETISCA_CHAT_LIMIT", default_value = "1/10")]
    pub chat_limit: Rate,

    /// `entering` frames one player socket may send, as RATE/BURST (or off)
    #[arg(long, env = "DRAPETISCA_ENTER_LIMIT", default_value = "1/5")]
    pub enter_limit: Rate,

    /// Frames one socket may have dropped (over a limit) or refused (malformed) before
    /// it is closed: RATE forgiven a second, at most BURST at once, as RATE/BURST (or off)
    #[arg(long, env = "DRAPETISCA_DROP_LIMIT", default_value = "10/200")]
    pub drop_limit: Rate,

    /// Seconds a client address is refused new sockets (429) after one of its sockets
    /// was closed for going over --drop-limit, so that a flooder cannot come straight
    /// back under a fresh id with full buckets; 0 turns this off. Sockets the address
    /// has open stay open
    #[arg(long, env = "DRAPETISCA_FLOOD_BAN_SECS", default_value_t = 30)]
    pub flood_ban_secs: u64,

    /// History reads (`/api/games/{id}/history*`) one client address may make, as
    /// RATE/BURST (or off); besides, one instance serves at most 8 at once
    #[arg(long, env = "DRAPETISCA_HISTORY_READ_LIMIT", default_value = "5/20")]
    pub history_read_limit: Rate,
}
