//! World frames as the bytes a world socket writes: a complete WebSocket text message
//! (header and JSON), encoded once per frame, or once per batch, and shared by every
//! socket that writes it. A socket then only hands the shared bytes to its connection;
//! it neither frames nor copies the update itself.

use bytes::{BufMut, Bytes, BytesMut};

/// One WebSocket text message from the server, complete and ready to write; cheap to
/// clone (the bytes are shared).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Wire {
    /// Header and payload, exactly as they go on the connection.
    bytes: Bytes,
    /// Where the payload (the JSON text) starts in `bytes`.
    header: usize,
    /// The update's number in its game's stream (docs/protocol.md, "Resuming the world
    /// stream"), kept beside the bytes: the reference stream never writes it, the
    /// batched stream writes it into each update of a batch. `None`: not a game's
    /// update (the bus status), or a batch.
    seq: Option<u64>,
}

/// What goes before an update's number in a batch.
const SEQ: &[u8] = b",\"seq\":";

/// FIN set, opcode 1 (text): the first byte of every message we write (RFC 6455 5.2).
const FIN_TEXT: u8 = 0x81;

/// The length of a server (unmasked) frame header for a payload of `len` bytes.
fn header_len(len: usize) -> usize {
    match len {
        0..=125 => 2,
        126..=0xFFFF => 4,
        _ => 10,
    }
}

/// Writes the header of an unmasked text frame of `len` payload bytes (RFC 6455 5.2).
fn put_header(out: &mut BytesMut, len: usize) {
    out.put_u8(FIN_TEXT);
    match len {
        // each arm's range fits the width it is written with
        0..=125 => out.put_u8(len as u8),
        126..=0xFFFF => {
            out.put_u8(126);
            out.put_u16(len as u16);
        }
        _ => {
            out.put_u8(127);
            out.put_u64(len as u64);
        }
    }
}

impl Wire {
    /// One world frame's JSON as one text message.
    pub fn text(json: &str) -> Self {
        let len = json.len();
        let header = header_len(len);
        let mut out = BytesMut::with_capacity(header + len);
        put_header(&mut out, len);
        out.put_slice(json.as_bytes());
        Wire {
            bytes: out.freeze(),
            header,
            seq: None,
        }
    }

    /// The same message, numbered `seq` in its game's stream.
    pub fn numbered(mut self, seq: Option<u64>) -> Self {
        self.seq = seq;
        self
    }

    /// The update's number in its game's stream, if it has one.
    pub fn seq(&self) -> Option<u64> {
        self.seq
    }

    /// Several frames as one text message of the batched world stream: a JSON array of
    /// the frames' JSON, in order (`[f1,f2,...]`), built with one copy of each frame. A
    /// numbered frame gets its number as a last field (`{...,"seq":N}`): the batched
    /// stream is our extension, so the number rides there and never on the reference
    /// stream's frames.
    pub fn batch(frames: &[Wire]) -> Self {
        // a number is written only into a frame that is a JSON object (they all are)
        let numbers: Vec<Option<String>> = frames
            .iter()
            .map(|f| {
                f.seq
                    .filter(|_| f.json().last() == Some(&b'}'))
                    .map(|n| n.to_string())
            })
            .collect();
        let len = 2
            + frames
                .iter()
                .zip(&numbers)
                .map(|(f, n)| f.json().len() + n.as_ref().map_or(0, |n| SEQ.len() + n.len()))
                .sum::<usize>()
            + frames.len().saturating_sub(1);
        let header = header_len(len);
        let mut out = BytesMut::with_capacity(header + len);
        put_header(&mut out, len);
        out.put_u8(b'[');
        for (i, (frame, number)) in frames.iter().zip(&numbers).enumerate() {
            if i > 0 {
                out.put_u8(b',');
            }
            let json = frame.json();
            match number {
                // its closing brace goes after the number
                Some(number) => {
                    out.put_slice(&json[..json.len() - 1]);
                    out.put_slice(SEQ);
                    out.put_slice(number.as_bytes());
                    out.put_u8(b'}');
                }
                None => out.put_slice(json),
            }
        }
        out.put_u8(b']');
        Wire {
            bytes: out.freeze(),
            header,
            seq: None,
        }
    }

    /// The message as it goes on the connection.
    pub fn bytes(&self) -> &Bytes {
        &self.bytes
    }

    /// The message's payload: the JSON text.
    pub fn json(&self) -> &[u8] {
        &self.bytes[self.header..]
    }

    /// Payload bytes, as the metrics count them.
    pub fn payload_len(&self) -> usize {
        self.bytes.len() - self.header
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use actix_http::ws::{Codec, Frame};
    use tokio_util::codec::Decoder;

    /// What a client's WebSocket decoder reads from `wire`: one text message's payload.
    fn decoded(wire: &Wire) -> String {
        let mut buf = BytesMut::from(&wire.bytes()[..]);
        let frame = Codec::new()
            .client_mode()
            .max_size(1 << 20)
            .decode(&mut buf)
            .unwrap()
            .unwrap();
        assert!(buf.is_empty(), "one message, nothing after it");
        match frame {
            Frame::Text(text) => String::from_utf8(text.to_vec()).unwrap(),
            other => panic!("not a text message: {other:?}"),
        }
    }

    #[test]
    fn a_frame_of_every_header_size_decodes_as_its_json() {
        for len in [0, 1, 125, 126, 127, 0xFFFF, 0x10000] {
            let json = "x".repeat(len);
            let wire = Wire::text(&json);
            assert_eq!(decoded(&wire), json, "payload of {len} bytes");
            assert_eq!(wire.json(), json.as_bytes());
            assert_eq!(wire.payload_len(), len);
        }
    }

    #[test]
    fn a_batch_writes_each_update_s_number_into_it_and_the_frame_alone_stays_as_it_is() {
        let numbered = Wire::text(r#"{"messageType":"leaving","payload":{"name":"Ana"}}"#)
            .numbered(Some(1_796_812_345_678_000));
        let status = Wire::text(r#"{"messageType":"status","payload":{"bus_ok":false}}"#);
        assert_eq!(
            decoded(&Wire::batch(&[numbered.clone(), status])),
            r#"[{"messageType":"leaving","payload":{"name":"Ana"},"seq":1796812345678000},{"messageType":"status","payload":{"bus_ok":false}}]"#
        );
        // the reference stream writes the frame as it is
        assert_eq!(
            decoded(&numbered),
            r#"{"messageType":"leaving","payload":{"name":"Ana"}}"#
        );
    }

    #[test]
    fn a_batch_is_one_json_array_of_its_frames_in_order() {
        let frames = [
            Wire::text(r#"{"messageType":"player","n":1}"#),
            Wire::text(r#"{"messageType":"food","n":2}"#),
            Wire::text(&format!(r#"{{"long":"{}"}}"#, "y".repeat(200))),
        ];
        let batch = decoded(&Wire::batch(&frames));
        let parsed: Vec<serde_json::Value> = serde_json::from_str(&batch).unwrap();
        let want: Vec<serde_json::Value> = frames
            .iter()
            .map(|f| serde_json::from_slice(f.json()).unwrap())
            .collect();
        assert_eq!(parsed, want);
        assert_eq!(
            decoded(&Wire::batch(&frames[..1])),
            format!("[{}]", std::str::from_utf8(frames[0].json()).unwrap())
        );
    }
}
