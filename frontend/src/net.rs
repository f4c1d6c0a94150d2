//! The WebSocket of a session: the one socket (docs/protocol.md), our commands and
//! replies and the batched world stream together. Its callbacks do nothing but dispatch
//! [`Action`]s; the reducer decides what a message or a drop means, and which stream a
//! message belongs to (`Socket::of`).

use protocol::Uuid;
use wasm_bindgen::closure::Closure;
use wasm_bindgen::{JsCast, JsValue};
use web_sys::{CloseEvent, MessageEvent, WebSocket};
use yew::UseReducerDispatcher;

use crate::state::{Action, GameState};

type Dispatch = UseReducerDispatcher<GameState>;

/// The socket of one session; dropping it closes it without reporting a drop.
pub struct Connection(Channel);

impl Connection {
    /// Opens the socket of `session` against `server` (`ws://host:port`): that of
    /// `game`, or of the server's default game when `None`, a spectator's when
    /// `watching`; resuming the world stream after update `after`, if given
    /// (docs/protocol.md).
    pub fn open(
        server: &str,
        game: Option<Uuid>,
        (me, watching): (Uuid, bool),
        after: Option<u64>,
        session: u32,
        dispatch: Dispatch,
    ) -> Result<Self, JsValue> {
        // `/ws/one/{id}` plays the default game, `/ws/game/{game}/one/{id}` that game;
        // `/ws/watch` and `/ws/game/{game}/watch` watch them
        let mut url = match (game, watching) {
            (Some(game), false) => format!("{server}/ws/game/{game}/one/{me}"),
            (None, false) => format!("{server}/ws/one/{me}"),
            (Some(game), true) => format!("{server}/ws/game/{game}/watch"),
            (None, true) => format!("{server}/ws/watch"),
        };
        if let Some(after) = after {
            url.push_str(&format!("?after={after}"));
        }
        Channel::open(&url, session, dispatch).map(Connection)
    }

    /// Writes a frame. A frame written while the socket is not open is lost, as it
    /// would be on the wire; the drop is already being handled.
    pub fn send(&self, text: &str) {
        if self.0.ws.ready_state() == WebSocket::OPEN {
            let _ = self.0.ws.send_with_str(text);
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
    fn open(url: &str, session: u32, dispatch: Dispatch) -> Result<Self, JsValue> {
        let ws = WebSocket::new(url)?;
        let on_open = {
            let dispatch = dispatch.clone();
            Closure::<dyn FnMut()>::new(move || dispatch.dispatch(Action::Opened { session }))
        };
        let on_message = {
            let dispatch = dispatch.clone();
            Closure::<dyn FnMut(MessageEvent)>::new(move |event: MessageEvent| {
                if let Some(text) = event.data().as_string() {
                    dispatch.dispatch(Action::Received { session, text });
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
