//! The two WebSockets of a session. Their callbacks do nothing but dispatch
//! [`Action`]s; the reducer decides what a frame or a drop means.

use protocol::Uuid;
use wasm_bindgen::closure::Closure;
use wasm_bindgen::{JsCast, JsValue};
use web_sys::{CloseEvent, MessageEvent, WebSocket};
use yew::UseReducerDispatcher;

use crate::state::{Action, GameState, Socket};

type Dispatch = UseReducerDispatcher<GameState>;

/// Both sockets of one session; dropping it closes them without reporting a drop.
pub struct Sockets {
    /// Where our commands go.
    player: Channel,
    /// Kept open for the world's updates; never written to.
    _world: Channel,
}

impl Sockets {
    /// Opens both sockets of `session` against `server` (`ws://host:port`): those of
    /// `game`, or the reference routes (the server's default game) when `None`.
    pub fn open(
        server: &str,
        game: Option<Uuid>,
        me: Uuid,
        session: u32,
        dispatch: Dispatch,
    ) -> Result<Self, JsValue> {
        // the routes of protocol.md: `/ws/player/{id}` and `/ws/world/{id}` play the
        // default game, `/ws/game/{game}/player/{id}` and `.../world/{id}` that game
        // (one prefix, not two formatted routes: the page's bytes count)
        let base = match game {
            Some(game) => format!("{server}/ws/game/{game}"),
            None => format!("{server}/ws"),
        };
        let player = Channel::open(
            &format!("{base}/player/{me}"),
            Socket::Player,
            session,
            dispatch.clone(),
        )?;
        // the batched world stream (docs/protocol.md): several updates to a message
        let world = Channel::open(
            &format!("{base}/world/{me}{}", protocol::BATCH_QUERY),
            Socket::World,
            session,
            dispatch,
        )?;
        Ok(Sockets {
            player,
            _world: world,
        })
    }

    /// Writes a frame to the player socket. A frame written while the socket is not
    /// open is lost, as it would be on the wire; the drop is already being handled.
    pub fn send(&self, text: &str) {
        if self.player.ws.ready_state() == WebSocket::OPEN {
            let _ = self.player.ws.send_with_str(text);
        }
    }
}

/// One socket with the callbacks attached to it, which must live as long as it does.
struct Channel {
    /// The browser's socket.
    ws: WebSocket,
    /// Reports the socket open.
    _on_open: Closure<dyn FnMut()>,
    /// Reports every text frame.
    _on_message: Closure<dyn FnMut(MessageEvent)>,
    /// Reports a close as a drop, with the server's reason.
    _on_close: Closure<dyn FnMut(CloseEvent)>,
    /// Reports an error as a drop.
    _on_error: Closure<dyn FnMut()>,
}

impl Channel {
    fn open(url: &str, socket: Socket, session: u32, dispatch: Dispatch) -> Result<Self, JsValue> {
        let ws = WebSocket::new(url)?;
        let on_open = {
            let dispatch = dispatch.clone();
            Closure::<dyn FnMut()>::new(move || {
                dispatch.dispatch(Action::Opened { session, socket })
            })
        };
        let on_message = {
            let dispatch = dispatch.clone();
            Closure::<dyn FnMut(MessageEvent)>::new(move |event: MessageEvent| {
                if let Some(text) = event.data().as_string() {
                    dispatch.dispatch(Action::Received {
                        session,
                        socket,
                        text,
                    });
                }
            })
        };
        let on_close = {
            let dispatch = dispatch.clone();
            Closure::<dyn FnMut(CloseEvent)>::new(move |event: CloseEvent| {
                dispatch.dispatch(Action::Dropped {
                    session,
                    reason: Some(event.reason()),
                })
            })
        };
        let on_error = Closure::<dyn FnMut()>::new(move || {
            dispatch.dispatch(Action::Dropped {
                session,
                reason: None,
            })
        });
        ws.set_onopen(Some(on_open.as_ref().unchecked_ref()));
        ws.set_onmessage(Some(on_message.as_ref().unchecked_ref()));
        ws.set_onclose(Some(on_close.as_ref().unchecked_ref()));
        ws.set_onerror(Some(on_error.as_ref().unchecked_ref()));
        Ok(Channel {
            ws,
            _on_open: on_open,
            _on_message: on_message,
            _on_close: on_close,
            _on_error: on_error,
        })
    }
}

impl Drop for Channel {
    fn drop(&mut self) {
        // detach first: the callbacks are freed with this struct, and a close we asked
        // for is not a drop to retry
        self.ws.set_onmessage(None);
        self.ws.set_onclose(None);
        self.ws.set_onerror(None);
        if self.ws.ready_state() == WebSocket::CONNECTING {
            // closing a socket still connecting logs an error in the console: close
            // it once it opens instead (the closure frees itself when called)
            let ws = self.ws.clone();
            let close = Closure::once_into_js(move || {
                let _ = ws.close();
            });
            self.ws.set_onopen(Some(close.unchecked_ref()));
        } else {
            self.ws.set_onopen(None);
            let _ = self.ws.close();
        }
    }
}
