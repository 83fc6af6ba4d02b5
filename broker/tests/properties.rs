//! Property tests of everything in `broker` that reads outside input: whatever arrives, nothing
//! panics, every refusal is a typed error, and what is accepted survives a round trip.

use async_nats::HeaderMap;
use bytes::Bytes;
use proptest::prelude::*;
use switchyard_broker::codec::{self, limits};
use switchyard_broker::duration::{parse_duration, parse_iso8601};
use switchyard_broker::events;

const CASES: u32 = 12_000;

/// Attribute names a producer might send, the odd ones included.
fn attribute_name() -> impl Strategy<Value = String> {
    prop_oneof![
        Just("specversion".to_string()),
        Just("id".to_string()),
        Just("source".to_string()),
        Just("type".to_string()),
        Just("subject".to_string()),
        Just("time".to_string()),
        Just("dataschema".to_string()),
        "[a-z0-9]{1,24}",
    ]
}

/// Header values: printable text, percent escapes, non-ASCII, long runs.
fn attribute_value() -> impl Strategy<Value = String> {
    prop_oneof![
        Just("1.0".to_string()),
        Just("2026-12-01T10:00:00Z".to_string()),
        "[ -~]{0,40}",
        "(%[0-9A-Fa-f]{2}|[a-zé€ ]){0,20}",
        "x{250,300}",
    ]
}

proptest! {
    #![proptest_config(ProptestConfig { cases: CASES, ..ProptestConfig::default() })]

    #[test]
    fn binary_mode_never_panics_and_round_trips(
        attributes in proptest::collection::vec((attribute_name(), attribute_value()), 0..12),
        payload in proptest::collection::vec(any::<u8>(), 0..64),
    ) {
        let mut headers = HeaderMap::new();
        headers.insert("ce-specversion", "1.0");
        for (name, value) in &attributes {
            headers.insert(format!("ce-{name}").as_str(), value.as_str());
        }
        if let Ok(event) = codec::decode_binary(&headers, &Bytes::from(payload)) {
            prop_assert!(limits::check(&event).is_ok());
            let (headers, payload) = codec::encode_binary(&event);
            let again = codec::decode_binary(&headers, &payload).expect("what we encode decodes");
            prop_assert_eq!(again, event);
        }
    }

    #[test]
    fn structured_mode_never_panics(payload in proptest::collection::vec(any::<u8>(), 0..256)) {
        let _ = codec::decode_structured(&payload);
    }

    #[test]
    fn structured_json_objects_never_panic_and_accepted_ones_round_trip(
        attributes in proptest::collection::vec((attribute_name(), attribute_value()), 0..10),
    ) {
        let mut object = serde_json::Map::new();
        object.insert("specversion".into(), "1.0".into());
        for (name, value) in attributes {
            object.insert(name, value.into());
        }
        let json = serde_json::to_vec(&object).expect("json");
        if let Ok(event) = codec::decode_structured(&json) {
            let (_, payload) = codec::encode_structured(&event).expect("encodes");
            prop_assert_eq!(codec::decode_structured(&payload).expect("decodes"), event);
        }
    }

    #[test]
    fn event_subjects_are_bounded_valid_subjects(ty in "\\PC{0,400}") {
        let subject = events::subject(&ty);
        prop_assert!(subject.len() <= events::MAX_SUBJECT_BYTES);
        prop_assert!(subject.starts_with("sy.event."));
        prop_assert!(!subject.split('.').any(str::is_empty), "empty token in {}", subject);
        prop_assert!(!subject.contains([' ', '\t', '\r', '\n', '*', '>']), "{}", subject);
    }

    #[test]
    fn durations_never_panic(text in "\\PC{0,40}", iso in "P(T)?[0-9.]{0,25}[HMSDW]?") {
        let _ = parse_duration(&text);
        let _ = parse_iso8601(&text);
        let _ = parse_iso8601(&iso);
    }
}
