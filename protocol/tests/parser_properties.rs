//! Property tests of the wire parser: whatever a client or a server sends, parsing
//! returns a value or an error, never panics, and every frame we write reads back as
//! the same message.

use proptest::prelude::*;
use protocol::server::{ErrorPayload, ResumedPayload, StatusPayload, TokenPayload};
use protocol::{
    Board, ChatFrom, ChatLine, ClientMessage, Entering, LeavingPayload, ObjectPayload,
    PlayerUpdate, ServerMessage, Uuid,
};
use serde_json::Value;

/// Any JSON value, nested a few levels: the shapes a hostile client can write.
fn json() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(Value::from),
        any::<f64>().prop_map(Value::from),
        any::<String>().prop_map(Value::String),
        // the protocol's own words, so that random objects often look almost right
        prop::sample::select(vec![
            "entering",
            "player",
            "chat",
            "leaving",
            "messageType",
            "payload",
            "x",
            "y",
            "name",
            "text",
            "id",
            "generation",
            "h",
            "playerID",
        ])
        .prop_map(Value::from),
    ];
    leaf.prop_recursive(4, 64, 8, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..8).prop_map(Value::Array),
            prop::collection::btree_map(key(), inner, 0..8)
                .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

/// An object key: mostly the protocol's own, sometimes anything.
fn key() -> impl Strategy<Value = String> {
    prop_oneof![
        4 => prop::sample::select(vec![
            "messageType", "payload", "x", "y", "h", "generation", "name", "text", "id",
            "playerID", "foodID", "halfSizeX", "halfSizeY", "reason", "bus_ok", "token",
            "wantToken",
        ])
        .prop_map(String::from),
        1 => any::<String>(),
    ]
}

/// A frame that has the protocol's envelope, with a random payload.
fn enveloped() -> impl Strategy<Value = Value> {
    let kind = prop::sample::select(vec![
        "entering", "player", "chat", "leaving", "geometry", "brick", "food", "error", "status",
        "teleport",
    ]);
    (kind, json(), json()).prop_map(|(kind, payload, id)| {
        serde_json::json!({"messageType": kind, "payload": payload, "playerID": id})
    })
}

fn update() -> impl Strategy<Value = PlayerUpdate> {
    (
        any::<Option<i32>>(),
        any::<Option<i32>>(),
        any::<bool>(),
        any::<i32>(),
        any::<String>(),
    )
        .prop_map(|(x, y, h, generation, name)| PlayerUpdate {
            x,
            y,
            h,
            generation,
            name,
        })
}

fn chat_line() -> impl Strategy<Value = ChatLine> {
    (any::<String>(), any::<String>(), any::<String>()).prop_map(|(id, name, text)| ChatLine {
        id,
        name,
        text,
    })
}

fn client_message() -> impl Strategy<Value = ClientMessage> {
    prop_oneof![
        (any::<String>(), any::<bool>(), any::<Option<String>>()).prop_map(
            |(name, want_token, token)| ClientMessage::Entering {
                payload: Entering {
                    name,
                    want_token,
                    token
                }
            }
        ),
        update().prop_map(|payload| ClientMessage::Player { payload }),
        chat_line().prop_map(|payload| ClientMessage::Chat { payload }),
        any::<String>().prop_map(|name| ClientMessage::Leaving {
            payload: Entering::named(name)
        }),
    ]
}

fn uuid() -> impl Strategy<Value = Uuid> {
    any::<u128>().prop_map(Uuid::from_u128)
}

fn object() -> impl Strategy<Value = ObjectPayload> {
    (any::<i32>(), any::<i32>(), any::<String>()).prop_map(|(x, y, name)| ObjectPayload {
        x,
        y,
        name,
    })
}

fn server_message() -> impl Strategy<Value = ServerMessage> {
    prop_oneof![
        (any::<i32>(), any::<i32>()).prop_map(|(half_x, half_y)| ServerMessage::Geometry {
            payload: Board { half_x, half_y }.into()
        }),
        (uuid(), update())
            .prop_map(|(player_id, payload)| ServerMessage::Player { player_id, payload }),
        object().prop_map(|payload| ServerMessage::Brick { payload }),
        (uuid(), object()).prop_map(|(food_id, payload)| ServerMessage::Food { food_id, payload }),
        (uuid(), any::<String>()).prop_map(|(player_id, name)| ServerMessage::Leaving {
            player_id,
            payload: LeavingPayload { name }
        }),
        (prop::option::of(uuid()), chat_line()).prop_map(|(from, payload)| ServerMessage::Chat {
            player_id: from.map_or(ChatFrom::Server, ChatFrom::Player),
            payload
        }),
        any::<String>().prop_map(|reason| ServerMessage::Error {
            payload: ErrorPayload { reason }
        }),
        any::<String>().prop_map(|token| ServerMessage::Token {
            payload: TokenPayload { token }
        }),
        any::<bool>().prop_map(|bus_ok| ServerMessage::Status {
            payload: StatusPayload { bus_ok }
        }),
        any::<u64>().prop_map(|after| ServerMessage::Resumed {
            payload: ResumedPayload { after }
        }),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(1000))]

    #[test]
    fn any_text_parses_or_is_refused_without_panicking(text in any::<String>()) {
        let _ = ClientMessage::parse(&text);
        let _ = ServerMessage::parse(&text);
    }

    #[test]
    fn any_json_parses_or_is_refused_without_panicking(value in prop_oneof![json(), enveloped()]) {
        let text = value.to_string();
        if let Ok(message) = ClientMessage::parse(&text) {
            // what the server accepts it can write back, and that reads the same
            prop_assert_eq!(ClientMessage::parse(&message.to_json()).unwrap(), message);
        }
        if let Ok(message) = ServerMessage::parse(&text) {
            prop_assert_eq!(ServerMessage::parse(&message.to_json()).unwrap(), message);
        }
    }

    #[test]
    fn every_client_frame_reads_back_as_itself(message in client_message()) {
        prop_assert_eq!(ClientMessage::parse(&message.to_json()).unwrap(), message);
    }

    #[test]
    fn every_server_frame_reads_back_as_itself(message in server_message()) {
        prop_assert_eq!(ServerMessage::parse(&message.to_json()).unwrap(), message);
    }

    #[test]
    fn cut_or_damaged_frames_are_refused_or_parse_without_panicking(
        message in client_message(),
        cut in any::<prop::sample::Index>(),
        flip in any::<prop::sample::Index>(),
        byte in any::<u8>(),
    ) {
        let mut bytes = message.to_json().into_bytes();
        let at = flip.index(bytes.len());
        bytes[at] = byte;
        bytes.truncate(cut.index(bytes.len() + 1));
        // a frame reaches the parser only as valid UTF-8 (a text frame)
        let text = String::from_utf8_lossy(&bytes);
        let _ = ClientMessage::parse(&text);
    }
}
