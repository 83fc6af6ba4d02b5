//! A small XML tree for SOAP answers: element local names, the resolved `xsi:type`, plain
//! attributes, children and text. Prefixes are resolved through their namespace, because
//! servers differ (vcsim writes `XMLSchema-instance:type`, faults use `xsi:type`).

use quick_xml::events::{BytesStart, Event};
use quick_xml::name::{Namespace, ResolveResult};
use quick_xml::NsReader;

const XSI: Namespace<'static> = Namespace(b"http://www.w3.org/2001/XMLSchema-instance");

/// One element of a parsed document.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Element {
    /// The local name, without prefix.
    pub name: String,
    /// The `xsi:type` attribute without its prefix (`VmPoweredOffEvent`), when present.
    pub xsi_type: Option<String>,
    /// Other attributes (not namespace declarations), by local name.
    pub attributes: Vec<(String, String)>,
    pub children: Vec<Element>,
    /// The text directly inside this element, unescaped.
    pub text: String,
}

/// A document that is not well-formed XML.
#[derive(Debug, thiserror::Error)]
#[error("malformed XML: {0}")]
pub struct MalformedXml(String);

impl Element {
    /// The first child named `name`.
    pub fn child(&self, name: &str) -> Option<&Element> {
        self.children.iter().find(|c| c.name == name)
    }

    /// Every child named `name`.
    pub fn children_named<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a Element> {
        self.children.iter().filter(move |c| c.name == name)
    }

    /// The text of the first child named `name`.
    pub fn child_text(&self, name: &str) -> Option<&str> {
        self.child(name).map(|c| c.text.as_str())
    }

    /// The value of the attribute `name`.
    pub fn attribute(&self, name: &str) -> Option<&str> {
        self.attributes
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    /// Removes and returns the first child named `name` (no copy of a large subtree).
    pub fn take_child(&mut self, name: &str) -> Option<Element> {
        let index = self.children.iter().position(|c| c.name == name)?;
        Some(self.children.swap_remove(index))
    }

    /// Consumes the element, returning its children named `name`.
    pub fn into_children_named(self, name: &str) -> impl Iterator<Item = Element> + '_ {
        self.children.into_iter().filter(move |c| c.name == name)
    }

    /// Follows a path of child names from this element.
    pub fn find(&self, path: &[&str]) -> Option<&Element> {
        path.iter()
            .try_fold(self, |element, name| element.child(name))
    }
}

/// Deepest nesting accepted: vSphere answers stay far below it, and every walk over a tree
/// (the event mapping, dropping it) recurses at most this deep.
pub const MAX_DEPTH: usize = 64;

impl Element {
    /// The element as an XML document: the `xsi` namespace declared on it, children and text
    /// escaped. What vCenter sent, up to namespace prefixes and whitespace.
    pub fn to_xml(&self) -> String {
        let mut out = String::new();
        self.write_xml(&mut out, true);
        out
    }

    fn write_xml(&self, out: &mut String, root: bool) {
        out.push('<');
        out.push_str(&self.name);
        if root {
            out.push_str(" xmlns:xsi=\"http://www.w3.org/2001/XMLSchema-instance\"");
        }
        if let Some(kind) = &self.xsi_type {
            out.push_str(&format!(" xsi:type=\"{}\"", escape(kind)));
        }
        for (name, value) in &self.attributes {
            out.push_str(&format!(" {name}=\"{}\"", escape(value)));
        }
        out.push('>');
        out.push_str(&escape(&self.text));
        for child in &self.children {
            child.write_xml(out, false);
        }
        out.push_str("</");
        out.push_str(&self.name);
        out.push('>');
    }
}

fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// Parses a whole document and returns its root element; nesting beyond [`MAX_DEPTH`] is
/// refused.
pub fn parse(document: &[u8]) -> Result<Element, MalformedXml> {
    let mut reader = NsReader::from_reader(document);
    reader.config_mut().trim_text(true);
    let mut buf = Vec::new();
    // The open elements; the root stays at the bottom.
    let mut stack: Vec<Element> = Vec::new();
    loop {
        let event = reader
            .read_event_into(&mut buf)
            .map_err(|e| MalformedXml(format!("at byte {}: {e}", reader.buffer_position())))?;
        match event {
            Event::Start(start) => {
                if stack.len() >= MAX_DEPTH {
                    return Err(MalformedXml(format!(
                        "elements nested deeper than {MAX_DEPTH}"
                    )));
                }
                stack.push(open(&reader, &start)?)
            }
            Event::Empty(start) => {
                let element = open(&reader, &start)?;
                if let Some(done) = attach(&mut stack, element) {
                    return Ok(done);
                }
            }
            Event::End(_) => {
                let element = stack
                    .pop()
                    .ok_or_else(|| MalformedXml("closing tag without opening".into()))?;
                if let Some(done) = attach(&mut stack, element) {
                    return Ok(done);
                }
            }
            Event::Text(text) => {
                let text = text
                    .unescape()
                    .map_err(|e| MalformedXml(format!("text: {e}")))?;
                if let Some(top) = stack.last_mut() {
                    top.text.push_str(&text);
                }
            }
            Event::CData(data) => {
                if let Some(top) = stack.last_mut() {
                    top.text.push_str(&String::from_utf8_lossy(&data));
                }
            }
            Event::Eof => return Err(MalformedXml("document ends before its root element".into())),
            _ => {}
        }
        buf.clear();
    }
}

/// Adds a finished element to its parent; returns it when it was the root.
fn attach(stack: &mut [Element], element: Element) -> Option<Element> {
    match stack.last_mut() {
        Some(parent) => {
            parent.children.push(element);
            None
        }
        None => Some(element),
    }
}

fn open(reader: &NsReader<&[u8]>, start: &BytesStart) -> Result<Element, MalformedXml> {
    let local = start.local_name();
    let mut element = Element {
        name: String::from_utf8_lossy(local.as_ref()).into_owned(),
        ..Element::default()
    };
    for attribute in start.attributes() {
        let attribute = attribute.map_err(|e| MalformedXml(format!("attribute: {e}")))?;
        if attribute.key.as_namespace_binding().is_some() {
            continue;
        }
        let value = attribute
            .unescape_value()
            .map_err(|e| MalformedXml(format!("attribute value: {e}")))?;
        let (namespace, name) = reader.resolve_attribute(attribute.key);
        if namespace == ResolveResult::Bound(XSI) && name.as_ref() == b"type" {
            let plain = value.rsplit(':').next().unwrap_or_default();
            element.xsi_type = Some(plain.to_string());
        } else {
            let name = String::from_utf8_lossy(name.as_ref()).into_owned();
            element.attributes.push((name, value.into_owned()));
        }
    }
    Ok(element)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn deep_nesting_is_refused_before_it_can_overflow_a_walk() {
        let depth = 100_000;
        let document = format!("{}{}", "<a>".repeat(depth), "</a>".repeat(depth));
        let error = parse(document.as_bytes()).expect_err("too deep");
        assert!(
            error.to_string().contains("nested deeper than 64"),
            "{error}"
        );
        let fine = format!("{}{}", "<a>".repeat(MAX_DEPTH), "</a>".repeat(MAX_DEPTH));
        assert!(parse(fine.as_bytes()).is_ok());
    }

    #[test]
    fn resolves_the_type_attribute_through_its_namespace() {
        let doc = br#"<val xmlns:XMLSchema-instance="http://www.w3.org/2001/XMLSchema-instance" XMLSchema-instance:type="ArrayOfEvent"><Event XMLSchema-instance:type="VmPoweredOffEvent"><key>28</key><vm><vm type="VirtualMachine">vm-57</vm></vm></Event><Event xmlns:x="http://www.w3.org/2001/XMLSchema-instance" x:type="vim25:EventEx"><key>29</key></Event></val>"#;
        let root = parse(doc).expect("parses");
        assert_eq!(root.xsi_type.as_deref(), Some("ArrayOfEvent"));
        let events: Vec<_> = root.children_named("Event").collect();
        assert_eq!(events[0].xsi_type.as_deref(), Some("VmPoweredOffEvent"));
        assert_eq!(events[1].xsi_type.as_deref(), Some("EventEx"));
        assert_eq!(events[0].child_text("key"), Some("28"));
        let vm = events[0].find(&["vm", "vm"]).expect("vm");
        assert_eq!(vm.attribute("type"), Some("VirtualMachine"));
        assert_eq!(vm.text, "vm-57");
    }

    #[test]
    fn a_prefix_bound_elsewhere_is_not_the_type() {
        let doc = br#"<a xmlns:xsi="urn:not-xsi" xsi:type="Nope"/>"#;
        let root = parse(doc).expect("parses");
        assert_eq!(root.xsi_type, None);
        assert_eq!(root.attribute("type"), Some("Nope"));
    }

    #[test]
    fn unescapes_text_and_refuses_broken_documents() {
        let root = parse(b"<m>a &amp; b &lt;c&gt;</m>").expect("parses");
        assert_eq!(root.text, "a & b <c>");
        assert!(parse(b"<a><b></a>").is_err());
        assert!(parse(b"<a>").is_err());
    }
}
