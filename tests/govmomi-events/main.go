// Command govmomi-events is govmomi's own view of a vCenter's events, for Switchyard's tests.
//
//	govmomi-events -url URL produce   makes events in vcsim: a VM powered off and on, a VM
//	                                  created, reconfigured, renamed and destroyed, a host event
//	                                  and an alarm event (the last three posted, as vcsim makes
//	                                  none of their kinds itself)
//	govmomi-events -url URL dump      prints every event, one JSON line each:
//	                                  {"key": K, "class": "VmPoweredOffEvent", "data": EVENT},
//	                                  EVENT being Go's encoding/json of govmomi's type
//
// Built by scripts/lib.sh (ensure_govmomi_events) like the vcsim wrapper, in GOPATH mode.
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"log"
	"net/url"
	"os"
	"reflect"

	"github.com/vmware/govmomi"
	"github.com/vmware/govmomi/event"
	"github.com/vmware/govmomi/find"
	"github.com/vmware/govmomi/object"
	"github.com/vmware/govmomi/vim25/types"
)

func main() {
	sdk := flag.String("url", "", "the SDK URL, with credentials")
	flag.Parse()
	if *sdk == "" || flag.NArg() != 1 {
		log.Fatal("usage: govmomi-events -url URL produce|dump")
	}
	u, err := url.Parse(*sdk)
	check(err)
	ctx := context.Background()
	client, err := govmomi.NewClient(ctx, u, true)
	check(err)
	switch flag.Arg(0) {
	case "produce":
		produce(ctx, client)
	case "dump":
		dump(ctx, client)
	default:
		log.Fatalf("unknown mode %q", flag.Arg(0))
	}
}

func check(err error) {
	if err != nil {
		log.Fatal(err)
	}
}

func produce(ctx context.Context, client *govmomi.Client) {
	wait := func(task *object.Task, err error) {
		check(err)
		check(task.Wait(ctx))
	}
	finder := find.NewFinder(client.Client, true)
	dc, err := finder.DefaultDatacenter(ctx)
	check(err)
	finder.SetDatacenter(dc)
	vm, err := finder.VirtualMachine(ctx, "DC0_H0_VM0")
	check(err)
	wait(vm.PowerOff(ctx))
	wait(vm.PowerOn(ctx))

	folders, err := dc.Folders(ctx)
	check(err)
	host, err := finder.HostSystem(ctx, "DC0_H0")
	check(err)
	pool, err := host.ResourcePool(ctx)
	check(err)
	spec := types.VirtualMachineConfigSpec{
		Name:     "sy-made",
		GuestId:  "otherGuest",
		MemoryMB: 128,
		NumCPUs:  1,
		Files:    &types.VirtualMachineFileInfo{VmPathName: "[LocalDS_0]"},
	}
	task, err := folders.VmFolder.CreateVM(ctx, spec, pool, host)
	check(err)
	info, err := task.WaitForResult(ctx, nil)
	check(err)
	made := object.NewVirtualMachine(client.Client, info.Result.(types.ManagedObjectReference))
	wait(made.Reconfigure(ctx, types.VirtualMachineConfigSpec{MemoryMB: 256, NumCPUs: 2, Annotation: "resized"}))
	wait(made.Rename(ctx, "sy-renamed"))

	manager := event.NewManager(client.Client)
	vmArgument := types.VmEventArgument{EntityEventArgument: types.EntityEventArgument{Name: "sy-renamed"}, Vm: made.Reference()}
	hostArgument := &types.HostEventArgument{EntityEventArgument: types.EntityEventArgument{Name: "DC0_H0"}, Host: host.Reference()}
	dcArgument := &types.DatacenterEventArgument{EntityEventArgument: types.EntityEventArgument{Name: "DC0"}, Datacenter: dc.Reference()}
	check(manager.PostEvent(ctx, &types.VmRenamedEvent{
		VmEvent: types.VmEvent{Event: types.Event{Vm: &vmArgument, Datacenter: dcArgument, Host: hostArgument,
			FullFormattedMessage: "Renamed sy-made to sy-renamed"}},
		OldName: "sy-made", NewName: "sy-renamed",
	}))
	wait(made.Destroy(ctx))

	check(manager.PostEvent(ctx, &types.HostConnectionLostEvent{
		HostEvent: types.HostEvent{Event: types.Event{Host: hostArgument, Datacenter: dcArgument,
			FullFormattedMessage: "Host DC0_H0 in DC0 is not responding"}},
	}))
	alarm := types.ManagedObjectReference{Type: "Alarm", Value: "alarm-7"}
	check(manager.PostEvent(ctx, &types.AlarmStatusChangedEvent{
		AlarmEvent: types.AlarmEvent{
			Event: types.Event{Host: hostArgument, Datacenter: dcArgument, FullFormattedMessage: "Alarm Host connection state changed from Green to Red"},
			Alarm: types.AlarmEventArgument{EntityEventArgument: types.EntityEventArgument{Name: "Host connection state"}, Alarm: alarm},
		},
		Source: types.ManagedEntityEventArgument{EntityEventArgument: types.EntityEventArgument{Name: "Datacenters"}, Entity: dc.Reference()},
		Entity: types.ManagedEntityEventArgument{EntityEventArgument: types.EntityEventArgument{Name: "DC0_H0"}, Entity: host.Reference()},
		From:   "green",
		To:     "red",
	}))
}

func dump(ctx context.Context, client *govmomi.Client) {
	manager := event.NewManager(client.Client)
	events, err := manager.QueryEvents(ctx, types.EventFilterSpec{MaxCount: 1000})
	check(err)
	out := json.NewEncoder(os.Stdout)
	for _, e := range events {
		line := map[string]interface{}{
			"key":   e.GetEvent().Key,
			"class": reflect.TypeOf(e).Elem().Name(),
			"data":  e,
		}
		check(out.Encode(line))
	}
	fmt.Fprintf(os.Stderr, "%d events\n", len(events))
}
