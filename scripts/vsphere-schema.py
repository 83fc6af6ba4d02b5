#!/usr/bin/env python3
"""Generates event-sources/src/vcenter/schema/types.json: the vSphere data types as govmomi
defines them (vim25/types/types.go and enum.go of Debian's golang-github-vmware-govmomi-dev),
so that the vCenter source can encode an event exactly as Go's encoding/json encodes govmomi's
types.

For each struct type: its embedded base (inheritance), and each own field as
[JSON name, XML name, kind]. Kinds:
  bool | int | float | string | time | bytes | any          a value
  *KIND                                                      a pointer: null when absent
  []KIND                                                     a slice: null when absent
  T:Name                                                     a struct (zero value when absent)
  I:Name                                                     an interface (BaseName): the concrete
                                                             type from xsi:type; null when absent
The XML name is `@attr` for an attribute and `#text` for character data.

It also writes broker/src/records/vsphere_event_classes.txt: the event classes, one per line,
which the gateway lists in the event catalog (the gateway depends on broker only).

Usage: scripts/vsphere-schema.py [GOVMOMI_TYPES_DIR] > event-sources/src/vcenter/schema/types.json
"""
import os
import json
import re
import sys

TYPES = sys.argv[1] if len(sys.argv) > 1 else "/usr/share/gocode/src/github.com/vmware/govmomi/vim25/types"

GO_SCALARS = {
    "bool": "bool", "string": "string", "byte": "int",
    "int": "int", "int8": "int", "int16": "int", "int32": "int", "int64": "int",
    "uint8": "int", "uint16": "int", "uint32": "int", "uint64": "int",
    "float32": "float", "float64": "float",
    "time.Time": "time", "AnyType": "any",
}

source = open(f"{TYPES}/types.go").read()
enums = set(re.findall(r"^type (\w+) string$", open(f"{TYPES}/enum.go").read(), re.M))
interfaces = set(re.findall(r"^type Base(\w+) interface", open(f"{TYPES}/if.go").read(), re.M))
structs = dict(re.findall(r"^type (\w+) struct \{\n(.*?)^\}", source, re.M | re.S))


def kind(go_type):
    if go_type == "[]byte":
        return "bytes"
    if go_type.startswith("[]"):
        return "[]" + kind(go_type[2:])
    if go_type.startswith("*"):
        return "*" + kind(go_type[1:])
    if go_type in GO_SCALARS:
        return GO_SCALARS[go_type]
    if go_type in enums:
        return "string"
    if go_type.startswith("Base") and go_type[4:] in interfaces:
        return "I:" + go_type[4:]
    if go_type in structs:
        return "T:" + go_type
    raise SystemExit(f"unknown Go type {go_type}")


FIELD = re.compile(r'^\s*(\w+)\s+(\S+)\s+`xml:"([^"]*)"')
table = {}
for name, body in structs.items():
    base = None
    fields = []
    for line in body.splitlines():
        line = line.strip()
        if not line or line.startswith("//"):
            continue
        if re.fullmatch(r"\w+", line):  # an embedded struct: the base type
            base = line
            continue
        match = FIELD.match(line)
        if not match:
            raise SystemExit(f"{name}: cannot read `{line}`")
        field, go_type, tag = match.groups()
        parts = tag.split(",")
        xml_name = parts[0]
        if "attr" in parts:
            xml_name = "@" + xml_name
        elif "chardata" in parts:
            xml_name = "#text"
        fields.append([field, xml_name, kind(go_type)])
    entry = {"f": fields}
    if base:
        entry["b"] = base
    table[name] = entry

# Only what an event can hold: every type that descends from Event, and what their fields
# reach (an interface reaches every type that descends from it).
children = {}
for name, entry in table.items():
    if "b" in entry:
        children.setdefault(entry["b"], []).append(name)


def descendants(name):
    found = [name]
    for child in children.get(name, []):
        found.extend(descendants(child))
    return found


# An `any` value (KeyAnyValue.Value) may be one of the ArrayOf types.
wanted, todo = set(), descendants("Event") + [n for n in table if n.startswith("ArrayOf")]
while todo:
    name = todo.pop()
    if name in wanted or name not in table:
        continue
    wanted.add(name)
    entry = table[name]
    if "b" in entry:
        todo.append(entry["b"])
    for _, _, field_kind in entry["f"]:
        target = field_kind.lstrip("*[]")
        if target.startswith("T:"):
            todo.append(target[2:])
        elif target.startswith("I:"):
            todo.extend(descendants(target[2:]))

table = {name: table[name] for name in sorted(wanted)}
classes_file = os.path.join(os.path.dirname(__file__), "..", "broker", "src", "records", "vsphere_event_classes.txt")
with open(classes_file, "w") as out:
    out.write("".join(f"{name}\n" for name in sorted(descendants("Event"))))
json.dump({"govmomi": TYPES, "types": table}, sys.stdout, separators=(",", ":"), sort_keys=True)
sys.stdout.write("\n")
