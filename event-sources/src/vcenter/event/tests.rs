use cloudevents::AttributesReader;

use super::*;
use crate::vcenter::soap::xml;

const PAGE: &str = r#"<val xmlns:XMLSchema-instance="http://www.w3.org/2001/XMLSchema-instance" XMLSchema-instance:type="ArrayOfEvent">
<Event XMLSchema-instance:type="VmPoweredOffEvent"><key>28</key><chainId>28</chainId><createdTime>2026-11-23T14:56:28.707831531Z</createdTime><userName>u</userName><datacenter><name>DC0</name><datacenter type="Datacenter">datacenter-2</datacenter></datacenter><vm><name>DC0_H0_VM0</name><vm type="VirtualMachine">vm-57</vm></vm><fullFormattedMessage>DC0_H0_VM0 on DC0_H0 in DC0 is powered off</fullFormattedMessage><template>false</template></Event>
<Event XMLSchema-instance:type="FancyFutureEvent"><key>29</key><chainId>29</chainId><createdTime>2026-11-23T14:56:29Z</createdTime><gadget><part>a</part><part>b</part><level>3</level></gadget></Event>
<Event XMLSchema-instance:type="EventEx"><key>-2147483648</key><chainId>30</chainId><createdTime>2026-11-23T14:56:30Z</createdTime><eventTypeId>com.vmware.vc.HA.HostFailed</eventTypeId></Event>
<Event XMLSchema-instance:type="VmPoweredOnEvent"><chainId>31</chainId><createdTime>2026-11-23T14:56:31Z</createdTime></Event>
</val>"#;

fn page() -> Vec<Result<VsphereEvent, UnreadableEvent>> {
    let root = xml::parse(PAGE.as_bytes()).expect("xml");
    root.children
        .iter()
        .map(VsphereEvent::from_element)
        .collect()
}

#[test]
fn known_and_unknown_classes_are_read_and_a_bad_one_stays_alone() {
    let events = page();
    let off = events[0].as_ref().expect("known class");
    assert_eq!(
        (off.class.as_str(), off.family, off.key),
        ("VmPoweredOffEvent", "event", 28)
    );
    assert_eq!(off.data["Vm"]["Name"], "DC0_H0_VM0");
    assert_eq!(
        off.data["Vm"]["Vm"],
        serde_json::json!({"Type": "VirtualMachine", "Value": "vm-57"})
    );
    assert_eq!(off.data["Key"], 28);
    assert_eq!(off.data["CreatedTime"], "2026-11-23T14:56:28.707831531Z");

    let unknown = events[1].as_ref().expect("unknown class");
    assert_eq!(unknown.class, "FancyFutureEvent");
    assert_eq!(
        unknown.data["Gadget"]["Part"],
        serde_json::json!(["a", "b"])
    );
    assert_eq!(
        unknown.mapping, SCHEMALESS,
        "a class the schema lacks is read schema-free"
    );
    assert_eq!(
        unknown.data["Gadget"]["Level"], "3",
        "without a schema, leaves are strings"
    );
    assert_eq!(events[0].as_ref().expect("known").mapping, TYPED);

    let ex = events[2].as_ref().expect("EventEx");
    assert_eq!(
        (ex.class.as_str(), ex.family, ex.key),
        ("com.vmware.vc.HA.HostFailed", "eventex", i32::MIN)
    );

    let broken = events[3].as_ref().expect_err("no key");
    assert_eq!(broken.field, "key");
}

#[test]
fn maps_to_the_vmware_cloudevent_shape() {
    let events = page();
    let off = events[0].as_ref().expect("event");
    let event = off.to_cloudevent(
        "https://vc.example/sdk",
        "8.0.3.0",
        switchyard_broker::records::PayloadEncoding::Json,
    );
    assert_eq!(event.ty(), "com.vmware.vsphere.VmPoweredOffEvent.v0");
    assert_eq!(event.id(), "28");
    assert_eq!(event.source().as_str(), "https://vc.example/sdk");
    assert_eq!(event.subject(), Some("VmPoweredOffEvent"));
    assert_eq!(
        event.time().map(|t| t.timestamp()),
        Some(off.created_time.timestamp())
    );
    assert_eq!(
        event
            .extension("eventclass")
            .map(|v| v.to_string())
            .as_deref(),
        Some("event")
    );
    assert_eq!(
        event
            .extension("vsphereapiversion")
            .map(|v| v.to_string())
            .as_deref(),
        Some("8.0.3.0")
    );
}

#[test]
fn keys_compare_across_the_int32_wrap() {
    assert!(key_after(29, 28));
    assert!(!key_after(28, 29));
    assert!(!key_after(5, 5));
    assert!(
        key_after(i32::MIN, i32::MAX),
        "the key after the largest wraps to the smallest"
    );
    assert!(key_after(-2_147_483_000, 2_147_483_000));
}
