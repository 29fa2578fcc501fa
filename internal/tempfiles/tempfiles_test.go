package tempfiles

import (
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"syscall"
	"testing"
	"time"
)

func TestRemoveStaleKeepsWhatIsHeldAndRemovesTheRest(t *testing.T) {
	if !lockingSupported {
		t.Skip("no flock on " + runtime.GOOS)
	}
	dir := t.TempDir()
	heldFile, heldFileLock, err := CreateFile(dir, "ark-log-*.gz")
	if err != nil {
		t.Fatal(err)
	}
	defer heldFile.Close()
	defer heldFileLock.Release()
	heldDir, heldDirLock, err := MkdirTemp(dir, "ark-restore-*")
	if err != nil {
		t.Fatal(err)
	}
	defer heldDirLock.Release()
	// What a crashed process left: made and held, then released.
	staleFile, l, err := CreateFile(dir, "ark-log-*.gz")
	if err != nil {
		t.Fatal(err)
	}
	staleFile.Close()
	l.Release()
	staleDir, l, err := MkdirTemp(dir, "ark-restore-*")
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(staleDir, "archive"), []byte("x"), 0o600); err != nil {
		t.Fatal(err)
	}
	l.Release()
	other := filepath.Join(dir, "not-ark")
	if err := os.WriteFile(other, nil, 0o600); err != nil {
		t.Fatal(err)
	}

	removed, err := RemoveStale(dir, "ark-restore-*", "ark-log-*.gz")
	if err != nil {
		t.Fatal(err)
	}
	if len(removed) != 2 {
		t.Errorf("removed %v, want the two stale ones", removed)
	}
	for _, p := range []string{staleFile.Name(), staleDir} {
		if _, err := os.Lstat(p); !os.IsNotExist(err) {
			t.Errorf("%s is still there (%v)", p, err)
		}
	}
	for _, p := range []string{heldFile.Name(), heldDir, other} {
		if _, err := os.Lstat(p); err != nil {
			t.Errorf("%s was removed: %v", p, err)
		}
	}
}

// A lock is held by a process: another process (here a child that takes
// the lock and waits) keeps the file from being removed, and its death
// releases it.
func TestRemoveStaleRespectsOtherProcesses(t *testing.T) {
	if !lockingSupported {
		t.Skip("no flock on " + runtime.GOOS)
	}
	if _, err := exec.LookPath("flock"); err != nil {
		t.Skip("flock(1) not installed")
	}
	dir := t.TempDir()
	path := filepath.Join(dir, "ark-log-1.gz")
	if err := os.WriteFile(path, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	child := exec.Command("flock", "--exclusive", "--close", path, "sleep", "30")
	// Its own process group, killed whole: flock forks sleep, which holds
	// the lock until it closes the descriptor; killing flock alone could
	// leave that window open for the sleep's 30 s.
	child.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := child.Start(); err != nil {
		t.Fatal(err)
	}
	// Wait until the child holds it.
	for i := 0; ; i++ {
		if l, err := Hold(path); err != nil {
			break
		} else {
			l.Release()
		}
		if i > 500 {
			t.Fatal("the child never took the lock")
		}
		time.Sleep(10 * time.Millisecond)
	}
	if removed, _ := RemoveStale(dir, "ark-log-*.gz"); len(removed) != 0 {
		t.Fatalf("removed %v while another process held it", removed)
	}
	_ = syscall.Kill(-child.Process.Pid, syscall.SIGKILL)
	_ = child.Wait()
	// The kernel drops the lock when the last holder has exited, which may
	// come a moment after Wait (the forked sleep is not our child).
	var removed []string
	for deadline := time.Now().Add(10 * time.Second); len(removed) == 0 && time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		removed, _ = RemoveStale(dir, "ark-log-*.gz")
	}
	if len(removed) != 1 {
		t.Fatalf("removed %v after the holder died, want the file", removed)
	}
}
