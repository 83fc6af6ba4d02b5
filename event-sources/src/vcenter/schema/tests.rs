use serde_json::json;

use super::*;
use crate::vcenter::soap::xml;

fn element(text: &str) -> Element {
    xml::parse(text.as_bytes()).expect("xml")
}

#[test]
fn an_event_has_every_field_of_its_type_typed_as_govmomi_encodes_it() {
    let off = element(
        r#"<Event xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" xsi:type="VmPoweredOffEvent"><key>28</key><chainId>27</chainId><createdTime>2026-11-23T14:56:28.707800Z</createdTime><userName>u</userName><datacenter><name>DC0</name><datacenter type="Datacenter">datacenter-2</datacenter></datacenter><vm><name>VM0</name><vm type="VirtualMachine">vm-57</vm></vm><fullFormattedMessage>VM0 is powered off</fullFormattedMessage><template>false</template></Event>"#,
    );
    assert_eq!(
        encode_struct(Some(&off), "VmPoweredOffEvent"),
        json!({
            "Key": 28, "ChainId": 27, "CreatedTime": "2026-11-23T14:56:28.7078Z", "UserName": "u",
            "Datacenter": {"Name": "DC0", "Datacenter": {"Type": "Datacenter", "Value": "datacenter-2"}},
            "ComputeResource": null, "Host": null,
            "Vm": {"Name": "VM0", "Vm": {"Type": "VirtualMachine", "Value": "vm-57"}},
            "Ds": null, "Net": null, "Dvs": null,
            "FullFormattedMessage": "VM0 is powered off", "ChangeTag": "", "Template": false
        })
    );
}

#[test]
fn lists_are_arrays_even_of_one_and_any_values_keep_their_type() {
    let ex = element(
        r#"<Event xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" xsi:type="EventEx"><key>5</key><chainId>5</chainId><createdTime>2026-11-23T14:56:28Z</createdTime><userName></userName><eventTypeId>com.example.thing</eventTypeId><arguments><key>count</key><value xsi:type="xsd:int">3</value></arguments></Event>"#,
    );
    let data = encode_struct(Some(&ex), "EventEx");
    assert_eq!(data["Arguments"], json!([{"Key": "count", "Value": 3}]));
    assert_eq!(data["EventTypeId"], "com.example.thing");
    assert_eq!(data["ObjectId"], "");
    assert_eq!(data["Fault"], Value::Null, "an absent pointer is null");
}

#[test]
fn an_absent_struct_is_its_zero_value_and_an_interface_takes_its_concrete_type() {
    let moved = element(
        r#"<Event xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" xsi:type="VmPoweredOnEvent"><key>1</key><chainId>1</chainId><createdTime>2026-11-23T14:56:28Z</createdTime></Event>"#,
    );
    let data = encode_struct(Some(&moved), "VmPoweredOnEvent");
    assert_eq!(data["UserName"], "");
    assert_eq!(data["Template"], false);
    let argument = encode_struct(None, "VmEventArgument");
    assert_eq!(
        argument,
        json!({"Name": "", "Vm": {"Type": "", "Value": ""}})
    );
}

#[test]
fn times_are_written_as_go_writes_them() {
    assert_eq!(go_time("2026-11-23T14:56:28Z"), "2026-11-23T14:56:28Z");
    assert_eq!(
        go_time("2026-11-23T14:56:28.120000Z"),
        "2026-11-23T14:56:28.12Z"
    );
    assert_eq!(
        go_time("2026-11-23T14:56:28.000+00:00"),
        "2026-11-23T14:56:28Z"
    );
    assert_eq!(
        go_time("2026-11-23T14:56:28.5+02:00"),
        "2026-11-23T14:56:28.5+02:00"
    );
}

#[test]
fn the_table_knows_the_event_classes() {
    let classes = event_classes();
    assert!(classes.len() > 400, "{}", classes.len());
    for class in [
        "Event",
        "VmPoweredOffEvent",
        "EventEx",
        "AlarmStatusChangedEvent",
        "HostConnectedEvent",
    ] {
        assert!(classes.contains(&class), "{class}");
    }
    assert!(!classes.contains(&"VmEventArgument"));
    let listed: Vec<&str> = switchyard_broker::records::vsphere_event_classes().collect();
    assert_eq!(
        classes, listed,
        "the broker's class list is generated with this table"
    );
    assert!(!knows("FancyFutureEvent"));
}
