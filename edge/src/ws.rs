//! The two WebSocket routes. Sockets are thin: they parse frames into protocol types,
//! hand commands to the room, and write what the room and the bus send them.
//!
//! - [`player`]: `/ws/player/{player_id}`, the player's commands and direct replies.
//! - [`world`]: `/ws/world/{player_id}`, every world update of the game from the bus.
//!
//! - [`one`]: `/ws/one/{player_id}`, both on one socket (an extension for our own
//!   clients, docs/protocol.md): the player socket's task, with the world socket's
//!   outflow as its connection's body.
//! - [`watch`]: `/ws/watch`, a spectator (an extension, docs/protocol.md): a brief
//!   and the batched world stream, no player and no commands.
//!
//! They play the default game; `/ws/game/{game_id}/player/{player_id}`,
//! `/ws/game/{game_id}/world/{player_id}` and `/ws/game/{game_id}/one/{player_id}` play
//! any game the registry knows.

pub mod one;
pub mod player;
pub mod replies;
pub mod watch;
pub mod world;

use std::net::IpAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use actix_web::body::{BodySize, BoxBody, MessageBody};
use actix_web::web::Bytes;
use actix_web::{web, HttpRequest, HttpResponse};
use actix_ws::{AggregatedMessageStream, CloseCode, CloseReason, Session};
use protocol::{Uuid, MAX_FRAME_BYTES};
use replies::Replies;
use world::outflow::{Control, Outflow};

use crate::guard::caps::SocketSlot;
use crate::state::AppState;

/// How often the server pings an idle client.
const HEARTBEAT: Duration = Duration::from_secs(10);
/// How long a client may stay silent (not even a pong) before it is dropped.
const CLIENT_TIMEOUT: Duration = Duration::from_secs(30);
/// How long one frame may take to go out before the client counts as stuck.
const SEND_TIMEOUT: Duration = Duration::from_secs(5);

/// An accepted WebSocket.
struct Upgraded {
    /// The handshake's answer.
    response: HttpResponse,
    /// The player id of the path.
    player: Uuid,
    session: Session,
    stream: AggregatedMessageStream,
    /// The client address the socket is counted under by the caps.
    address: IpAddr,
}

/// Upgrades the request to a WebSocket for the player id in its path, if the guard
/// admits it (origin, caps); the id must be a UUID (the reference clients draw one per
/// page load).
fn upgrade(
    req: &HttpRequest,
    body: web::Payload,
    id: &str,
    state: &AppState,
) -> Result<Upgraded, actix_web::Error> {
    let player: Uuid = id
        .parse()
        .map_err(|_| actix_web::error::ErrorBadRequest("the player id must be a UUID"))?;
    upgrade_as(req, body, player, state)
}

/// Upgrades the request to a WebSocket named `player`, if the guard admits it.
fn upgrade_as(
    req: &HttpRequest,
    body: web::Payload,
    player: Uuid,
    state: &AppState,
) -> Result<Upgraded, actix_web::Error> {
    let slot = state.guard.admit(req)?;
    let (response, session, stream) = actix_ws::handle(req, body)?;
    let address = slot.address();
    // the place under the caps is held by the connection's response body, which lives
    // as long as the connection: a client that stops reading keeps its connection open
    // after its socket task gave up on it (heartbeat, send timeout), and must go on
    // counting, or it could open sockets without end
    let response = response.map_body(|_, body| BoxBody::new(HoldsSlot { body, _slot: slot }));
    let stream = stream
        .max_frame_size(MAX_FRAME_BYTES)
        .aggregate_continuations()
        .max_continuation_size(MAX_FRAME_BYTES);
    Ok(Upgraded {
        response,
        player,
        session,
        stream,
        address,
    })
}

/// An accepted WebSocket whose connection writes a game's updates ([`Upgraded::into_outflow`]).
struct Streaming {
    /// The handshake's answer, with the outflow as its body.
    response: HttpResponse,
    /// Where the socket task writes (actix-ws' session goes unused).
    control: Control,
    player: Uuid,
    stream: AggregatedMessageStream,
    address: IpAddr,
    /// Whether the stream resumed after the update the client named (`?after=`): its
    /// first message holds what the client missed.
    resumed: bool,
}

impl Upgraded {
    /// Makes `game`'s updates (batches with `batch`) the connection's body: the world
    /// socket's outflow, which also writes what the socket task queues in the returned
    /// [`Control`]. Subscribed before the handshake is answered, so that no update
    /// published after the client's handshake completes can be missed (a client may
    /// enter as soon as its one socket is open). A batched stream resumes after update
    /// `after` if this instance still has it (docs/protocol.md).
    fn into_outflow(
        self,
        game: Uuid,
        batch: bool,
        pace: Duration,
        after: Option<u64>,
        state: &Arc<AppState>,
    ) -> Streaming {
        let (updates, first, resumed) = world::subscribe(state, game, batch, after);
        let doorbell = world::Doorbell::new(game, batch, pace, &updates);
        let control = Control::default();
        let response = self.response.map_body(|_, actix_ws| {
            BoxBody::new(Outflow::new(
                control.clone(),
                actix_ws,
                updates,
                doorbell,
                first,
                self.player,
                Arc::clone(state),
            ))
        });
        drop(self.session);
        Streaming {
            response,
            control,
            player: self.player,
            stream: self.stream,
            address: self.address,
            resumed,
        }
    }
}

/// A response body that holds the socket's place under the caps until the connection
/// drops it.
struct HoldsSlot {
    body: BoxBody,
    _slot: SocketSlot,
}

impl MessageBody for HoldsSlot {
    type Error = Box<dyn std::error::Error>;

    fn size(&self) -> BodySize {
        self.body.size()
    }

    fn poll_next(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Bytes, Self::Error>>> {
        Pin::new(&mut self.get_mut().body).poll_next(cx)
    }
}

/// `/ws/player/{player_id}`: a player socket of the default game.
pub async fn player_route(
    req: HttpRequest,
    body: web::Payload,
    id: web::Path<String>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, actix_web::Error> {
    let game = state.registry.default_game();
    serve_player(req, body, game, &id, state)
}

/// What a client asks of its world socket, in the query of its address.
#[derive(Debug, Default, serde::Deserialize)]
pub struct WorldOptions {
    /// `?batch=true`: the batched world stream, several updates to a message
    /// (docs/protocol.md); reference clients never ask for it.
    #[serde(default)]
    pub batch: bool,
    /// `?after=N` (with `batch=true`): the number of the last update the client saw;
    /// the stream resumes after it if this instance still has what came after
    /// (docs/protocol.md, "Resuming the world stream"). Anything but a number from 0 to
    /// 2^64-1 is refused before the upgrade with 400, as is a number without
    /// `batch=true` (the reference stream carries no numbers).
    #[serde(default)]
    pub after: Option<u64>,
}

impl WorldOptions {
    fn check(&self) -> Result<(), actix_web::Error> {
        if self.after.is_some() && !self.batch {
            return Err(actix_web::error::ErrorBadRequest(
                "after= resumes the batched stream only: ask for batch=true too",
            ));
        }
        Ok(())
    }
}

/// What a client asks of its one socket, in the query of its address.
#[derive(Debug, Default, serde::Deserialize)]
pub struct OneOptions {
    /// `?after=N`: as on a world socket ([`WorldOptions::after`]); when the stream
    /// resumes, the brief of the next `entering` is cut to what the client lacks.
    #[serde(default)]
    pub after: Option<u64>,
}

/// `/ws/world/{player_id}`: a world socket of the default game.
pub async fn world_route(
    req: HttpRequest,
    body: web::Payload,
    id: web::Path<String>,
    options: web::Query<WorldOptions>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, actix_web::Error> {
    let game = state.registry.default_game();
    serve_world(req, body, game, &id, &options, state)
}

/// `/ws/game/{game_id}/player/{player_id}`: a player socket of any game.
pub async fn game_player_route(
    req: HttpRequest,
    body: web::Payload,
    path: web::Path<(String, String)>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, actix_web::Error> {
    let game = known_game(&path.0, &state).await?;
    serve_player(req, body, game, &path.1, state)
}

/// `/ws/game/{game_id}/world/{player_id}`: a world socket of any game.
pub async fn game_world_route(
    req: HttpRequest,
    body: web::Payload,
    path: web::Path<(String, String)>,
    options: web::Query<WorldOptions>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, actix_web::Error> {
    let game = known_game(&path.0, &state).await?;
    serve_world(req, body, game, &path.1, &options, state)
}

/// The game named in a path, refused before the upgrade when it does not exist.
async fn known_game(id: &str, state: &AppState) -> Result<Uuid, actix_web::Error> {
    let game: Uuid = id
        .parse()
        .map_err(|_| actix_web::error::ErrorBadRequest("the game id must be a UUID"))?;
    match state.registry.exists(game).await {
        Ok(true) => Ok(game),
        Ok(false) => Err(actix_web::error::ErrorNotFound("no such game")),
        Err(e) => {
            tracing::warn!(%game, error = %e, "cannot look the game up");
            Err(actix_web::error::ErrorServiceUnavailable(
                "the game cannot be looked up now",
            ))
        }
    }
}

fn serve_player(
    req: HttpRequest,
    body: web::Payload,
    game: Uuid,
    id: &str,
    state: web::Data<AppState>,
) -> Result<HttpResponse, actix_web::Error> {
    let socket = upgrade(&req, body, id, &state)?;
    actix_web::rt::spawn(player::run(
        game,
        socket.player,
        Replies::Session(socket.session),
        socket.stream,
        socket.address,
        player::Brief::Whole,
        state.into_inner(),
    ));
    Ok(socket.response)
}

fn serve_world(
    req: HttpRequest,
    body: web::Payload,
    game: Uuid,
    id: &str,
    options: &WorldOptions,
    state: web::Data<AppState>,
) -> Result<HttpResponse, actix_web::Error> {
    options.check()?;
    let state = state.into_inner();
    let socket = upgrade(&req, body, id, &state)?.into_outflow(
        game,
        options.batch,
        Duration::ZERO,
        options.after,
        &state,
    );
    let response = socket.response;
    actix_web::rt::spawn(world::run(
        socket.control,
        socket.stream,
        socket.address,
        world::ClientFrames::Ignored,
        state,
    ));
    Ok(response)
}

/// Pings an idle client, and notices one that went silent.
struct Heartbeat {
    /// When to ping next.
    interval: tokio::time::Interval,
    /// When the client last sent anything at all.
    last_heard: std::time::Instant,
}

impl Heartbeat {
    fn new() -> Self {
        Heartbeat {
            interval: tokio::time::interval(HEARTBEAT),
            last_heard: std::time::Instant::now(),
        }
    }

    /// The client sent something: it is alive.
    fn heard(&mut self) {
        self.last_heard = std::time::Instant::now();
    }

    async fn tick(&mut self) {
        self.interval.tick().await;
    }

    /// `Err` with the close to send when the client has been silent too long.
    fn check(&self) -> Result<(), Option<CloseReason>> {
        if self.last_heard.elapsed() > CLIENT_TIMEOUT {
            return Err(close(CloseCode::Away, "no heartbeat"));
        }
        Ok(())
    }

    /// Pings the client; `Err` with the close to send when it is silent or gone.
    async fn beat(&mut self, replies: &mut Replies) -> Result<(), Option<CloseReason>> {
        self.check()?;
        replies.ping().await.map_err(|_| None)
    }
}

/// The client is gone or stuck; the connection ends.
pub struct Gone;

/// The close for a socket that had too many frames dropped or refused; its address is
/// refused for a while.
fn flooding(state: &AppState, address: IpAddr) -> Option<CloseReason> {
    state.guard.metrics.socket_flooding();
    state.guard.flooded(address);
    close(CloseCode::Policy, "too many frames over the limits")
}

fn close(code: CloseCode, why: &str) -> Option<CloseReason> {
    Some(CloseReason {
        code,
        description: Some(why.into()),
    })
}

/// The close to send for a protocol error on the read side.
fn close_for(error: &actix_ws::ProtocolError) -> Option<CloseReason> {
    match error {
        actix_ws::ProtocolError::Overflow => close(CloseCode::Size, "frame larger than 64 KiB"),
        _ => close(CloseCode::Protocol, "websocket protocol error"),
    }
}
