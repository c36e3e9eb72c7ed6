package mockserver

import (
	"slices"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

func TestRoomsAndPushes(t *testing.T) {
	s := NewT(t)
	a, ida := connect(t, s, 3, nil)
	b, idb := connect(t, s, 4, nil)
	c, idc := connect(t, s, 3, nil)

	want := []string{ida, idb, idc}
	slices.Sort(want)
	if diff := cmp.Diff(want, s.SocketIDs()); diff != "" {
		t.Fatalf("SocketIDs (-want +got):\n%s", diff)
	}
	s.Join(ida, "r")
	s.Join(idb, "r")
	s.Join("unknown", "r")
	if got := s.Rooms(ida); !slices.Contains(got, ida) || !slices.Contains(got, "r") || len(got) != 2 {
		t.Errorf("Rooms(a) = %v", got)
	}
	if s.Rooms("unknown") != nil {
		t.Error("Rooms of an unknown socket")
	}
	members := []string{ida, idb}
	slices.Sort(members)
	if diff := cmp.Diff(members, s.RoomMembers("r")); diff != "" {
		t.Errorf("RoomMembers (-want +got):\n%s", diff)
	}

	s.Broadcast("r", "chat", map[string]string{"msg": "<hi>"})
	a.expect(`42["chat",{"msg":"<hi>"}]`)
	b.expect(`42["chat",{"msg":"<hi>"}]`)

	s.BroadcastExcept("r", "chat", 2, ida)
	b.expect(`42["chat",2]`)

	s.Emit(idc, "direct", nil)
	c.expect(`42["direct",null]`)
	s.Broadcast(idc, "own-room", "x") // every socket is in its id room
	c.expect(`42["own-room","x"]`)

	s.Leave(ida, "r")
	s.Broadcast("r", "chat", 3)
	b.expect(`42["chat",3]`)

	s.BlastExcept("news", map[string]int{"x": 1}, idb)
	a.expect(`42["news",{"x":1}]`)
	c.expect(`42["news",{"x":1}]`)
	s.Blast("news", true)
	a.expect(`42["news",true]`)
	b.expect(`42["news",true]`)
	c.expect(`42["news",true]`)

	// a never got the chat after Leave, nor the blast it was omitted from.
	a.expectNothing(50 * time.Millisecond)
	b.expectNothing(0)

	// A disconnected socket leaves every room.
	b.send("41")
	if _, err := s.WaitSockets(ctxT(t), func(ids []string) bool { return !slices.Contains(ids, idb) }); err != nil {
		t.Fatal(err)
	}
	if got := s.RoomMembers("r"); len(got) != 0 {
		t.Errorf("room r still has %v", got)
	}
}

func TestPublish(t *testing.T) {
	s := NewT(t)
	watcher, idw := connect(t, s, 3, nil)
	creator, idc := connect(t, s, 4, nil)
	s.Watch(idw, "user")
	s.Watch(idc, "user")

	type user struct {
		ID   int    `json:"id"`
		Name string `json:"name"`
	}
	s.Publish("user", "created", 1, user{1, "alice"}, nil, idc)
	watcher.expect(`42["user",{"verb":"created","data":{"id":1,"name":"alice"},"id":1}]`)
	// Watchers were introduced to the new record: they get its updates (the creator too).
	s.Publish("user", "updated", 1, map[string]string{"name": "bob"}, user{1, "alice"}, "")
	watcher.expect(`42["user",{"verb":"updated","data":{"name":"bob"},"id":1,"previous":{"id":1,"name":"alice"}}]`)
	creator.expect(`42["user",{"verb":"updated","data":{"name":"bob"},"id":1,"previous":{"id":1,"name":"alice"}}]`)
	s.Publish("user", "destroyed", 1, nil, user{1, "bob"}, idw)
	creator.expect(`42["user",{"verb":"destroyed","id":1,"previous":{"id":1,"name":"bob"}}]`)

	// Subscribe joins record rooms directly.
	other, ido := connect(t, s, 3, nil)
	s.Subscribe(ido, "pet", 7)
	if !slices.Contains(s.Rooms(ido), RecordRoom("pet", 7)) || RecordRoom("pet", 7) != "sails_model_pet_7:pet" {
		t.Fatalf("rooms %v", s.Rooms(ido))
	}
	s.Publish("pet", "addedTo", 7, nil, nil, "")
	other.expect(`42["pet",{"verb":"addedTo","id":7}]`)
	watcher.expectNothing(50 * time.Millisecond)
}
