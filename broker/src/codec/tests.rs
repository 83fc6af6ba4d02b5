use async_nats::HeaderMap;
use bytes::Bytes;
use cloudevents::{AttributesReader, Data, Event, EventBuilder, EventBuilderV10};

use super::*;

fn sample() -> Event {
    let mut event = EventBuilderV10::new()
        .id("42")
        .source("/vcenter/sdk")
        .ty("com.vmware.vsphere.VmPoweredOffEvent.v0")
        .subject("Größe 100% \"quoted\" ünïcødé")
        .time("2026-11-23T10:00:00.5Z")
        .extension("eventclass", "VmPoweredOffEvent")
        .extension("weird", "a%20b %zz é")
        .data("application/octet-stream", vec![0u8, 159, 146, 150, 255])
        .build()
        .expect("valid event");
    event.set_extension("count", 7i64);
    event
}

#[test]
fn binary_round_trip_keeps_every_attribute_and_data() {
    let event = sample();
    let (headers, payload) = encode_binary(&event);
    let decoded = decode(Some(&headers), &payload).expect("decodes");
    assert_eq!(decoded.id(), "42");
    assert_eq!(decoded.source(), "/vcenter/sdk");
    assert_eq!(decoded.subject(), event.subject());
    assert_eq!(decoded.time(), event.time());
    assert_eq!(decoded.datacontenttype(), Some("application/octet-stream"));
    assert_eq!(
        decoded
            .extension("eventclass")
            .map(|v| v.to_string())
            .as_deref(),
        Some("VmPoweredOffEvent")
    );
    assert_eq!(
        decoded.extension("weird").map(|v| v.to_string()).as_deref(),
        Some("a%20b %zz é")
    );
    assert_eq!(
        decoded.extension("count").map(|v| v.to_string()).as_deref(),
        Some("7")
    );
    assert_eq!(
        decoded.data(),
        Some(&Data::Binary(vec![0u8, 159, 146, 150, 255]))
    );
}

#[test]
fn binary_header_values_are_percent_encoded_ascii() {
    let (headers, _) = encode_binary(&sample());
    let subject = headers.get("ce-subject").expect("subject header").as_str();
    assert!(subject.is_ascii(), "{subject}");
    assert!(
        !subject.contains(' ') && !subject.contains('"'),
        "{subject}"
    );
    assert!(subject.contains("100%25"), "{subject}");
    assert_eq!(
        headers.get("content-type").map(|v| v.as_str()),
        Some("application/octet-stream")
    );
}

#[test]
fn structured_round_trip_keeps_every_attribute_and_data() {
    let event = sample();
    let (headers, payload) = encode_structured(&event).expect("encodes");
    let decoded = decode(Some(&headers), &payload).expect("decodes");
    assert_eq!(decoded, event);
}

#[test]
fn raw_values_from_lenient_sdks_are_taken_as_they_are() {
    let mut headers = base_headers();
    headers.insert("ce-subject", "100% raw");
    headers.insert("Ce-Traceparent", "00-abc");
    let event = decode_binary(&headers, &Bytes::new()).expect("decodes");
    assert_eq!(event.subject(), Some("100% raw"));
    assert_eq!(
        event
            .extension("traceparent")
            .map(|v| v.to_string())
            .as_deref(),
        Some("00-abc")
    );
}

#[test]
fn percent_decoding_is_the_inverse_of_encoding() {
    for value in [
        "plain",
        "",
        "a b",
        "%",
        "%%41",
        "ü",
        "\"q\"",
        "tab\there",
        "😀 emoji",
        "%zz",
    ] {
        assert_eq!(percent::decode(&percent::encode(value)), value, "{value:?}");
    }
}

const BASE: [(&str, &str); 4] = [
    ("ce-specversion", "1.0"),
    ("ce-id", "1"),
    ("ce-source", "https://example.com/src"),
    ("ce-type", "t"),
];

fn base_headers() -> HeaderMap {
    headers_with(None, &[])
}

/// The base headers without `drop`, plus `extra` (which may replace a base header).
fn headers_with(drop: Option<&str>, extra: &[(&str, &str)]) -> HeaderMap {
    let mut headers = HeaderMap::new();
    for (name, value) in BASE.iter().filter(|(n, _)| Some(*n) != drop) {
        headers.insert(*name, *value);
    }
    for (name, value) in extra {
        headers.insert(*name, *value);
    }
    headers
}

#[test]
fn every_invalid_binary_input_is_rejected_with_its_reason() {
    // (header to drop, headers to add, the reason the error must give)
    type Case<'a> = (Option<&'a str>, &'a [(&'a str, &'a str)], &'a str);
    let cases: &[Case] = &[
        (
            Some("ce-specversion"),
            &[],
            "missing required attribute `specversion`",
        ),
        (
            None,
            &[("ce-specversion", "0.3")],
            "unsupported specversion `0.3`",
        ),
        (Some("ce-id"), &[], "missing required attribute `id`"),
        (None, &[("ce-id", "")], "missing required attribute `id`"),
        (
            Some("ce-source"),
            &[],
            "missing required attribute `source`",
        ),
        (
            None,
            &[("ce-source", "has space")],
            "attribute `source` is invalid: not a URI-reference",
        ),
        (
            None,
            &[("ce-source", "1http://x")],
            "attribute `source` is invalid: not a URI-reference",
        ),
        (Some("ce-type"), &[], "missing required attribute `type`"),
        (
            None,
            &[("ce-time", "yesterday")],
            "attribute `time` is invalid: not an RFC 3339 timestamp",
        ),
        (
            None,
            &[("ce-dataschema", "/relative")],
            "attribute `dataschema` is invalid: not an absolute URI",
        ),
        (
            None,
            &[("ce-Bad_Name", "x")],
            "extension name `bad_name` is invalid",
        ),
        (
            None,
            &[("ce-waytoolongextensionname", "x")],
            "extension name `waytoolongextensionname` is invalid",
        ),
        (
            None,
            &[("ce-data", "x")],
            "extension name `data` is invalid",
        ),
    ];
    for (drop, extra, reason) in cases {
        let error = decode_binary(&headers_with(*drop, extra), &Bytes::new())
            .expect_err(reason)
            .to_string();
        assert!(
            error.contains(reason),
            "{error:?} should contain {reason:?}"
        );
    }
}

#[test]
fn every_invalid_structured_input_is_rejected_with_its_reason() {
    let cases = [
        (r#"[1]"#, "expected a JSON object"),
        (r#"{"#, "structured event is not valid"),
        (
            r#"{"id":"1","source":"/s","type":"t"}"#,
            "missing required attribute `specversion`",
        ),
        (
            r#"{"specversion":"2.0","id":"1","source":"/s","type":"t"}"#,
            "unsupported specversion `2.0`",
        ),
        (
            r#"{"specversion":"1.0","id":1,"source":"/s","type":"t"}"#,
            "attribute `id` is invalid: not a string",
        ),
        (
            r#"{"specversion":"1.0","id":"1","source":"a b","type":"t"}"#,
            "attribute `source` is invalid",
        ),
        (
            r#"{"specversion":"1.0","id":"1","source":"/s"}"#,
            "missing required attribute `type`",
        ),
        (
            r#"{"specversion":"1.0","id":"1","source":"/s","type":"t","time":"noon"}"#,
            "attribute `time` is invalid",
        ),
        (
            r#"{"specversion":"1.0","id":"1","source":"/s","type":"t","Upper":"x"}"#,
            "extension name `Upper` is invalid",
        ),
    ];
    for (json, reason) in cases {
        let mut headers = HeaderMap::new();
        headers.insert(
            "content-type",
            "application/cloudevents+json; charset=utf-8",
        );
        let error = decode(Some(&headers), &Bytes::from(json))
            .expect_err(json)
            .to_string();
        assert!(
            error.contains(reason),
            "{json}: {error:?} should contain {reason:?}"
        );
    }
}

#[test]
fn structured_data_base64_and_json_data_are_understood() {
    let json = r#"{"specversion":"1.0","id":"1","source":"/s","type":"t","datacontenttype":"application/json","data":{"a":[1,2]}}"#;
    let event = decode_structured(json.as_bytes()).expect("decodes");
    let (_, payload) = encode_binary(&event);
    assert_eq!(&payload[..], br#"{"a":[1,2]}"#);
    let b64 = r#"{"specversion":"1.0","id":"1","source":"/s","type":"t","data_base64":"AAEC"}"#;
    let event = decode_structured(b64.as_bytes()).expect("decodes");
    assert_eq!(event.data(), Some(&Data::Binary(vec![0, 1, 2])));
}
