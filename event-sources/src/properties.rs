//! Property tests of the parsers of outside input in this crate: the webhook's HTTP binding
//! (binary, structured, batch and plain), the SOAP reader's XML and the vSphere event mapping.
//! Whatever arrives, nothing panics and every refusal is a typed error.

use axum::body::Bytes;
use axum::http::{HeaderMap, HeaderName, HeaderValue};
use proptest::prelude::*;
use switchyard_broker::records::WebhookConfig;

use crate::vcenter::event::VsphereEvent;
use crate::vcenter::soap::xml;
use crate::webhook::parse;

const CASES: u32 = 15_000;

fn content_type() -> impl Strategy<Value = &'static str> {
    prop_oneof![
        Just("application/cloudevents+json"),
        Just("application/cloudevents-batch+json"),
        Just("application/json"),
        Just(""),
    ]
}

/// Fragments an XML answer is made of, so that generated documents get deep into the reader.
fn xml_fragment() -> impl Strategy<Value = String> {
    prop_oneof![
        Just("<Event>".to_string()),
        Just("</Event>".to_string()),
        Just("<key>".to_string()),
        Just("</key>".to_string()),
        Just(r#"<vm type="VirtualMachine">"#.to_string()),
        Just("</vm>".to_string()),
        Just(
            r#"<e xmlns:x="http://www.w3.org/2001/XMLSchema-instance" x:type="VmPoweredOffEvent">"#
                .to_string()
        ),
        Just("</e>".to_string()),
        Just("<createdTime>2026-12-01T10:00:00Z</createdTime>".to_string()),
        Just("&amp;&#x1F600;&bogus;".to_string()),
        Just("<![CDATA[x]]>".to_string()),
        "[0-9a-z<>/ =\"]{0,12}",
    ]
}

proptest! {
    #![proptest_config(ProptestConfig { cases: CASES, ..ProptestConfig::default() })]

    #[test]
    fn webhook_posts_never_panic(
        kind in content_type(),
        ce_headers in proptest::collection::vec(("(id|source|type|specversion|time|[a-z]{1,8})", "[ -~]{0,30}"), 0..6),
        body in proptest::collection::vec(any::<u8>(), 0..200),
        json_body in "\\[?\\{\"(specversion|id|source|type)\": ?\"[ -~]{0,10}\"(, ?\"(id|source|type)\": ?\"[a-z./]{0,10}\"){0,3}\\}\\]?",
    ) {
        let mut headers = HeaderMap::new();
        if !kind.is_empty() {
            headers.insert("content-type", HeaderValue::from_static(kind));
        }
        for (name, value) in &ce_headers {
            if let (Ok(name), Ok(value)) = (
                HeaderName::from_bytes(format!("ce-{name}").as_bytes()),
                HeaderValue::from_str(value),
            ) {
                headers.insert(name, value);
            }
        }
        let config = WebhookConfig::default();
        for payload in [Bytes::from(body.clone()), Bytes::from(json_body.clone())] {
            if let Ok(events) = parse::events("src", &config, &headers, payload) {
                for event in &events {
                    prop_assert!(switchyard_broker::codec::limits::check(event).is_ok());
                }
            }
        }
    }

    #[test]
    fn soap_xml_never_panics(fragments in proptest::collection::vec(xml_fragment(), 0..40)) {
        let document = fragments.concat();
        if let Ok(root) = xml::parse(document.as_bytes()) {
            let _ = VsphereEvent::from_element(&root);
            for child in &root.children {
                let _ = VsphereEvent::from_element(child);
            }
        }
    }

    #[test]
    fn arbitrary_bytes_as_xml_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..300)) {
        let _ = xml::parse(&bytes);
    }
}
