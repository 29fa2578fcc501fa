package restoreplan

import (
	"bytes"
	"fmt"
	"sync"
	"testing"
)

func TestSpoolRoundTrip(t *testing.T) {
	spool, err := NewSpool(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	defer spool.Close()
	tally := &Tally{Next: spool}
	var wg sync.WaitGroup
	for w := range 4 {
		wg.Go(func() {
			for i := range 250 {
				o := []Outcome{WouldCreate, Identical, Differs, WouldFail, NotChecked}[i%5]
				tally.Record(Item{Outcome: o, Resource: "configmaps", Namespace: fmt.Sprintf("ns-%d", w), Name: fmt.Sprint(i), Reason: "r\n\"quoted\""})
			}
		})
	}
	wg.Wait()
	tally.Note("CRD %s would be created", "x")
	tally.Note("CRD %s would be created", "x")
	sum := tally.Summary()
	if sum.Counts.WouldCreate != 200 || sum.Counts.NotChecked != 200 || len(sum.Groups) != 4 || len(sum.Notes) != 1 {
		t.Fatalf("%+v", sum)
	}
	var buf bytes.Buffer
	if err := spool.WriteTo(&buf, sum); err != nil {
		t.Fatal(err)
	}
	f, err := Read(&buf)
	if err != nil {
		t.Fatal(err)
	}
	if len(f.Items) != 1000 || f.Counts != sum.Counts || f.Groups[3].Namespace != "ns-3" || f.Items[0].Reason != "r\n\"quoted\"" {
		t.Fatalf("read back: %d items, %+v", len(f.Items), f.Summary)
	}
}

func TestEmptyPlan(t *testing.T) {
	spool, err := NewSpool(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	defer spool.Close()
	var buf bytes.Buffer
	if err := spool.WriteTo(&buf, (&Tally{}).Summary()); err != nil {
		t.Fatal(err)
	}
	f, err := Read(&buf)
	if err != nil || len(f.Items) != 0 || f.Groups == nil {
		t.Fatalf("%v %+v", err, f)
	}
}
