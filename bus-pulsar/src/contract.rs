//! The topics' contract: every topic Drapetisca uses, the message properties it sets
//! and reads, and the JSON schemas it registers: what any other Pulsar client, function
//! or sink needs to read or write them. The one place these names are written; the bus
//! ([`crate::PulsarBus`]) and the cluster's links use them from here.
//!
//! - The **world** topic (`--pulsar-topic`): every game's world frames, exactly the
//!   world socket's JSON (protocol.md), key = game id; notices for the instances (a
//!   take-over marker, a census) are messages without a payload.
//! - The **command** topic ([`command_topic`], partitioned, key = game id) and the
//!   **direct** topic ([`direct_topic`]): the cluster's own (docs/cluster.md).
//!
//! The schemas are Pulsar's JSON schema type, which describes a JSON payload with an
//! Avro record.

use pulsar::proto;

/// The command topic that goes with a world topic.
pub fn command_topic(world_topic: &str) -> String {
    format!("{world_topic}-commands")
}

/// The direct-reply topic that goes with a world topic.
pub fn direct_topic(world_topic: &str) -> String {
    format!("{world_topic}-direct")
}

/// Message property naming the instance that published a frame.
pub const ORIGIN: &str = "drapetisca-origin";
/// Message property holding the frame's sequence number within its origin.
pub const SEQUENCE: &str = "drapetisca-seq";
/// Message property of a frame: its number in its game's stream, given by the game's
/// owner (`game_core::bus::Bus`), which every instance's batched world sockets write
/// and resume from (docs/protocol.md, "Resuming the world stream"). Not
/// [`SEQUENCE`], which numbers an instance's messages for de-duplication.
pub const UPDATE: &str = "drapetisca-update";
/// Message property naming the game a frame belongs to (also the message key, so a
/// key-aware reader can follow one game).
pub const GAME: &str = "drapetisca-game";
/// Message property: the epoch of the owner that published the frame (the cluster's fencing, through the world-stream hook).
pub const EPOCH: &str = "drapetisca-epoch";
/// Message property of a take-over marker (no frame for clients): the nonce the new
/// owner reads the topic up to (the cluster's take-over).
pub const MARKER: &str = "drapetisca-marker";
/// Message property: the id of the cluster command a frame answers (the cluster's host drops it when redelivered).
pub const CAUSE: &str = "drapetisca-cause";
/// Message property of an owner's census (no frame for clients): the game's players
/// (the cluster's census).
pub const CENSUS: &str = "drapetisca-census";

/// The JSON schema of the world topic: a protocol frame (protocol.md). The payload's
/// fields depend on `messageType`; the record lists them all as optional.
pub fn world_schema() -> proto::Schema {
    json_schema(
        "WorldFrame",
        r#"{"type":"record","name":"WorldFrame","namespace":"drapetisca","fields":[
 {"name":"messageType","type":"string"},
 {"name":"playerID","type":["null","string"],"default":null},
 {"name":"foodID","type":["null","string"],"default":null},
 {"name":"payload","type":{"type":"record","name":"WorldPayload","fields":[
   {"name":"x","type":["null","int"],"default":null},
   {"name":"y","type":["null","int"],"default":null},
   {"name":"h","type":["null","boolean"],"default":null},
   {"name":"generation","type":["null","int"],"default":null},
   {"name":"name","type":["null","string"],"default":null},
   {"name":"id","type":["null","string"],"default":null},
   {"name":"text","type":["null","string"],"default":null},
   {"name":"score","type":["null","long"],"default":null}]}}]}"#,
    )
}

/// The JSON schema of the command topic.
pub fn command_schema() -> proto::Schema {
    json_schema(
        "Command",
        r#"{"type":"record","name":"Command","namespace":"drapetisca","fields":[
 {"name":"game","type":"string"},
 {"name":"origin","type":"string"},
 {"name":"kind","type":"string"},
 {"name":"socket","type":["null",{"type":"record","name":"ConnRef","fields":[
   {"name":"player","type":"string"},{"name":"conn","type":"long"}]}],"default":null},
 {"name":"frame","type":["null","string"],"default":null},
 {"name":"conns","type":["null",{"type":"array","items":"ConnRef"}],"default":null},
 {"name":"id","type":["null","string"],"default":null}]}"#,
    )
}

/// The JSON schema of the direct topic.
pub fn direct_schema() -> proto::Schema {
    json_schema(
        "Direct",
        r#"{"type":"record","name":"Direct","namespace":"drapetisca","fields":[
 {"name":"target","type":"string"},
 {"name":"game","type":"string"},
 {"name":"socket","type":{"type":"record","name":"ConnRef","fields":[
   {"name":"player","type":"string"},{"name":"conn","type":"long"}]}},
 {"name":"frames","type":{"type":"array","items":"string"}},
 {"name":"close","type":["null","string"],"default":null}]}"#,
    )
}

/// A Pulsar JSON schema from its Avro record definition (whitespace removed).
pub fn json_schema(name: &str, avro: &str) -> proto::Schema {
    let compact: String = avro.chars().filter(|c| !c.is_whitespace()).collect();
    proto::Schema {
        name: name.into(),
        schema_data: compact.into_bytes(),
        r#type: proto::schema::Type::Json as i32,
        properties: Vec::new(),
    }
}
