package localnode

import (
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
)

func podWith(policy corev1.RestartPolicy) *corev1.Pod {
	return &corev1.Pod{Spec: corev1.PodSpec{RestartPolicy: policy}}
}

func exited(code int32) *corev1.ContainerStateTerminated {
	return &corev1.ContainerStateTerminated{ExitCode: code}
}

func TestPhase(t *testing.T) {
	running := containerView{name: "a", running: true}
	waiting := containerView{name: "a"}
	ok := containerView{name: "a", terminated: exited(0)}
	bad := containerView{name: "b", terminated: exited(3)}
	restarting := containerView{name: "b", lastTerminated: exited(1), waitingReason: "CrashLoopBackOff"}
	cases := []struct {
		name string
		in   statusInput
		want corev1.PodPhase
	}{
		{"init not done", statusInput{pod: podWith(""), containers: []containerView{waiting}}, corev1.PodPending},
		{"init failed under Never", statusInput{pod: podWith(corev1.RestartPolicyNever), failed: true}, corev1.PodFailed},
		{"not started", statusInput{pod: podWith(""), initDone: true, containers: []containerView{waiting}}, corev1.PodPending},
		{"running", statusInput{pod: podWith(""), initDone: true, containers: []containerView{running, waiting}}, corev1.PodRunning},
		{"Never, all succeeded", statusInput{pod: podWith(corev1.RestartPolicyNever), initDone: true, containers: []containerView{ok}}, corev1.PodSucceeded},
		{"Never, one failed", statusInput{pod: podWith(corev1.RestartPolicyNever), initDone: true, containers: []containerView{ok, bad}}, corev1.PodFailed},
		{"OnFailure, all succeeded", statusInput{pod: podWith(corev1.RestartPolicyOnFailure), initDone: true, containers: []containerView{ok}}, corev1.PodSucceeded},
		{"OnFailure, one failed", statusInput{pod: podWith(corev1.RestartPolicyOnFailure), initDone: true, containers: []containerView{ok, bad}}, corev1.PodRunning},
		{"Always, all exited", statusInput{pod: podWith(corev1.RestartPolicyAlways), initDone: true, containers: []containerView{ok}}, corev1.PodRunning},
		{"Always, in back-off", statusInput{pod: podWith(corev1.RestartPolicyAlways), initDone: true, containers: []containerView{restarting}}, corev1.PodRunning},
		{"deleted, stopped with SIGTERM", statusInput{pod: podWith(corev1.RestartPolicyAlways), initDone: true, stopping: true, containers: []containerView{{name: "a", terminated: exited(143)}}}, corev1.PodFailed},
		{"deleted, exited 0", statusInput{pod: podWith(corev1.RestartPolicyAlways), initDone: true, stopping: true, containers: []containerView{ok}}, corev1.PodSucceeded},
	}
	for _, c := range cases {
		if got := phase(c.in); got != c.want {
			t.Errorf("%s: phase = %s, want %s", c.name, got, c.want)
		}
	}
}

func condition(st corev1.PodStatus, t corev1.PodConditionType) *corev1.PodCondition {
	for i := range st.Conditions {
		if st.Conditions[i].Type == t {
			return &st.Conditions[i]
		}
	}
	return nil
}

func TestBuildStatusRunningPod(t *testing.T) {
	now := time.Date(2026, 1, 2, 3, 4, 5, 600, time.UTC)
	pod := &corev1.Pod{
		Spec: corev1.PodSpec{ReadinessGates: nil},
		Status: corev1.PodStatus{
			QOSClass:   corev1.PodQOSBestEffort,
			Conditions: []corev1.PodCondition{{Type: corev1.PodScheduled, Status: corev1.ConditionTrue, Reason: "bound by the scheduler"}},
		},
	}
	st := buildStatus(statusInput{
		pod: pod, volumesReady: true, initDone: true, startTime: now, now: now,
		initContainers: []containerView{{name: "init", image: "busybox", id: "localnode://x-init-1", terminated: exited(0)}},
		containers:     []containerView{{name: "app", image: "nginx", id: "localnode://x-app-1", running: true, startedAt: now, restartCount: 2, lastTerminated: exited(1)}},
	})
	if st.Phase != corev1.PodRunning || st.PodIP != "127.0.0.1" || st.HostIP != "127.0.0.1" {
		t.Fatalf("phase %s podIP %s hostIP %s", st.Phase, st.PodIP, st.HostIP)
	}
	if st.QOSClass != corev1.PodQOSBestEffort {
		t.Fatalf("QOSClass lost: %q", st.QOSClass)
	}
	if st.StartTime == nil || st.StartTime.Nanosecond() != 0 {
		t.Fatalf("start time %v should be whole seconds, as the API server stores it", st.StartTime)
	}
	for _, ct := range []corev1.PodConditionType{corev1.PodReadyToStartContainers, corev1.PodInitialized, corev1.ContainersReady, corev1.PodReady} {
		if c := condition(st, ct); c == nil || c.Status != corev1.ConditionTrue {
			t.Errorf("condition %s = %+v, want True", ct, c)
		}
	}
	if c := condition(st, corev1.PodScheduled); c == nil || c.Reason != "bound by the scheduler" {
		t.Errorf("PodScheduled not kept: %+v", c)
	}
	cs := st.ContainerStatuses[0]
	if !cs.Ready || cs.State.Running == nil || cs.RestartCount != 2 || cs.LastTerminationState.Terminated.ExitCode != 1 || cs.ContainerID != "localnode://x-app-1" {
		t.Fatalf("container status %+v", cs)
	}
	if is := st.InitContainerStatuses[0]; !is.Ready || is.State.Terminated == nil {
		t.Fatalf("init container status %+v", is)
	}
}

func TestBuildStatusWaitingForVolumes(t *testing.T) {
	now := time.Now()
	st := buildStatus(statusInput{
		pod: &corev1.Pod{}, volumesWait: "PersistentVolumeClaim ns/data is not bound", startTime: now, now: now,
		containers: []containerView{{name: "app"}},
	})
	if st.Phase != corev1.PodPending {
		t.Fatalf("phase %s", st.Phase)
	}
	w := st.ContainerStatuses[0].State.Waiting
	if w == nil || w.Reason != "ContainerCreating" || w.Message != "PersistentVolumeClaim ns/data is not bound" {
		t.Fatalf("waiting %+v", w)
	}
	if c := condition(st, corev1.PodReady); c == nil || c.Status != corev1.ConditionFalse || c.Reason != "ContainersNotReady" {
		t.Fatalf("Ready %+v", c)
	}
	if c := condition(st, corev1.PodScheduled); c == nil || c.Status != corev1.ConditionTrue {
		t.Fatalf("a pod bound by nodeName should get PodScheduled: %+v", c)
	}
	// The same input again gives the same status: no needless writes.
	again := buildStatus(statusInput{
		pod: &corev1.Pod{Status: st}, volumesWait: "PersistentVolumeClaim ns/data is not bound", startTime: now, now: now.Add(time.Minute),
		containers: []containerView{{name: "app"}},
	})
	for i, c := range again.Conditions {
		if !c.LastTransitionTime.Equal(&st.Conditions[i].LastTransitionTime) {
			t.Fatalf("condition %s moved its transition time without a change", c.Type)
		}
	}
}

func TestBuildStatusReadinessGates(t *testing.T) {
	now := time.Now()
	pod := &corev1.Pod{Spec: corev1.PodSpec{ReadinessGates: []corev1.PodReadinessGate{{ConditionType: "example.com/ready"}}}}
	in := statusInput{pod: pod, volumesReady: true, initDone: true, startTime: now, now: now, containers: []containerView{{name: "a", running: true}}}
	if c := condition(buildStatus(in), corev1.PodReady); c.Status != corev1.ConditionFalse || c.Reason != "ReadinessGatesNotReady" {
		t.Fatalf("Ready without the gate: %+v", c)
	}
	pod.Status.Conditions = []corev1.PodCondition{{Type: "example.com/ready", Status: corev1.ConditionTrue}}
	if c := condition(buildStatus(in), corev1.PodReady); c.Status != corev1.ConditionTrue {
		t.Fatalf("Ready with the gate: %+v", c)
	}
}
