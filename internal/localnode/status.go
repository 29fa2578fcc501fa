package localnode

import (
	"fmt"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// statusInput is what a pod's status is computed from: the pod as the API
// server has it, and the node's view of its containers.
type statusInput struct {
	pod            *corev1.Pod
	volumesReady   bool
	volumesWait    string
	initDone       bool
	failed         bool
	stopping       bool
	startTime      time.Time
	now            time.Time
	initContainers []containerView
	containers     []containerView
}

type containerView struct {
	name, image                   string
	id                            string
	waitingReason, waitingMessage string
	running                       bool
	startedAt                     time.Time
	terminated, lastTerminated    *corev1.ContainerStateTerminated
	restartCount                  int32
}

// buildStatus computes the pod's status the way the kubelet does, for the
// parts this node knows. It keeps what others own (PodScheduled, the QoS
// class, conditions of other types) from the pod's current status.
func buildStatus(in statusInput) corev1.PodStatus {
	st := *in.pod.Status.DeepCopy()
	st.HostIP = nodeIP
	st.HostIPs = []corev1.HostIP{{IP: nodeIP}}
	st.PodIP = nodeIP
	st.PodIPs = []corev1.PodIP{{IP: nodeIP}}
	start := apiTime(in.startTime)
	if st.StartTime == nil {
		st.StartTime = &start
	}
	st.Phase = phase(in)
	if in.failed {
		st.Reason, st.Message = "", "an init container failed and the restart policy is Never"
	}

	st.InitContainerStatuses = nil
	for _, c := range in.initContainers {
		cs := containerStatus(c, "PodInitializing", in.volumesWait)
		ready := c.terminated != nil && c.terminated.ExitCode == 0
		cs.Ready = ready
		st.InitContainerStatuses = append(st.InitContainerStatuses, cs)
	}
	st.ContainerStatuses = nil
	var unready []string
	for _, c := range in.containers {
		reason := "ContainerCreating"
		if in.volumesReady && !in.initDone {
			reason = "PodInitializing"
		}
		cs := containerStatus(c, reason, in.volumesWait)
		cs.Ready = c.running && !in.stopping
		if !cs.Ready {
			unready = append(unready, c.name)
		}
		st.ContainerStatuses = append(st.ContainerStatuses, cs)
	}

	var incomplete []string
	for _, c := range in.initContainers {
		if c.terminated == nil || c.terminated.ExitCode != 0 {
			incomplete = append(incomplete, c.name)
		}
	}
	set := func(t corev1.PodConditionType, ok bool, reason, msg string) {
		setCondition(&st, in.now, t, ok, reason, msg)
	}
	set(corev1.PodReadyToStartContainers, in.volumesReady, "", "")
	if in.initDone {
		set(corev1.PodInitialized, true, "", "")
	} else {
		set(corev1.PodInitialized, false, "ContainersNotInitialized", fmt.Sprintf("containers with incomplete status: [%s]", strings.Join(incomplete, " ")))
	}
	if len(unready) == 0 {
		set(corev1.ContainersReady, true, "", "")
	} else {
		set(corev1.ContainersReady, false, "ContainersNotReady", fmt.Sprintf("containers with unready status: [%s]", strings.Join(unready, " ")))
	}
	readyReason, readyMsg := "", ""
	if len(unready) > 0 {
		readyReason, readyMsg = "ContainersNotReady", fmt.Sprintf("containers with unready status: [%s]", strings.Join(unready, " "))
	} else {
		// Readiness gates are conditions others set; Ready waits for them.
		var missing []string
		for _, g := range in.pod.Spec.ReadinessGates {
			if !conditionTrue(st.Conditions, g.ConditionType) {
				missing = append(missing, string(g.ConditionType))
			}
		}
		if len(missing) > 0 {
			readyReason, readyMsg = "ReadinessGatesNotReady", fmt.Sprintf("corresponding condition of pod readiness gate %q does not exist.", strings.Join(missing, ", "))
		}
	}
	set(corev1.PodReady, readyReason == "", readyReason, readyMsg)
	if !hasCondition(st.Conditions, corev1.PodScheduled) {
		// Bound by setting nodeName, without a scheduler.
		set(corev1.PodScheduled, true, "", "")
	}
	return st
}

// phase follows the kubelet: Pending until the init containers are done and
// a container has started; Succeeded or Failed when every container has
// ended and none will restart; Running otherwise.
func phase(in statusInput) corev1.PodPhase {
	if in.failed {
		return corev1.PodFailed
	}
	if !in.initDone {
		return corev1.PodPending
	}
	running, ended, failedCount, waiting := 0, 0, 0, 0
	for _, c := range in.containers {
		switch {
		case c.running:
			running++
		case c.terminated != nil:
			ended++
			if c.terminated.ExitCode != 0 {
				failedCount++
			}
		case c.lastTerminated != nil:
			// Waiting to restart after it ended.
			ended++
			if c.lastTerminated.ExitCode != 0 {
				failedCount++
			}
		default:
			waiting++
		}
	}
	policy := in.pod.Spec.RestartPolicy
	switch {
	case waiting > 0 && running == 0 && ended == 0:
		return corev1.PodPending
	case running > 0 || waiting > 0:
		return corev1.PodRunning
	}
	// Every container has ended.
	if in.stopping {
		// Deleted: the kubelet gives a terminal phase before removal.
		if failedCount > 0 {
			return corev1.PodFailed
		}
		return corev1.PodSucceeded
	}
	switch policy {
	case corev1.RestartPolicyNever:
		if failedCount > 0 {
			return corev1.PodFailed
		}
		return corev1.PodSucceeded
	case corev1.RestartPolicyOnFailure:
		if failedCount == 0 {
			return corev1.PodSucceeded
		}
	}
	return corev1.PodRunning // about to restart
}

func containerStatus(c containerView, defaultReason, volumesWait string) corev1.ContainerStatus {
	cs := corev1.ContainerStatus{
		Name:                 c.name,
		Image:                c.image,
		ImageID:              "localnode://" + c.image,
		ContainerID:          c.id,
		RestartCount:         c.restartCount,
		Started:              ptrBool(c.running),
		LastTerminationState: corev1.ContainerState{Terminated: c.lastTerminated},
	}
	switch {
	case c.running:
		cs.State.Running = &corev1.ContainerStateRunning{StartedAt: apiTime(c.startedAt)}
	case c.terminated != nil && c.waitingReason == "":
		cs.State.Terminated = c.terminated
	default:
		reason, msg := c.waitingReason, c.waitingMessage
		if reason == "" {
			reason, msg = defaultReason, volumesWait
		}
		cs.State.Waiting = &corev1.ContainerStateWaiting{Reason: reason, Message: msg}
	}
	return cs
}

func ptrBool(b bool) *bool { return &b }

func hasCondition(conds []corev1.PodCondition, t corev1.PodConditionType) bool {
	for _, c := range conds {
		if c.Type == t {
			return true
		}
	}
	return false
}

func conditionTrue(conds []corev1.PodCondition, t corev1.PodConditionType) bool {
	for _, c := range conds {
		if c.Type == t {
			return c.Status == corev1.ConditionTrue
		}
	}
	return false
}

// setCondition sets a condition, keeping its transition time when its status
// does not change.
func setCondition(st *corev1.PodStatus, now time.Time, t corev1.PodConditionType, ok bool, reason, msg string) {
	status := corev1.ConditionFalse
	if ok {
		status = corev1.ConditionTrue
	}
	for i := range st.Conditions {
		c := &st.Conditions[i]
		if c.Type != t {
			continue
		}
		if c.Status != status {
			c.LastTransitionTime = apiTime(now)
		}
		c.Status, c.Reason, c.Message = status, reason, msg
		return
	}
	st.Conditions = append(st.Conditions, corev1.PodCondition{
		Type: t, Status: status, Reason: reason, Message: msg, LastTransitionTime: apiTime(now),
	})
}

// apiTime drops what the API server would: it keeps whole seconds, so a
// status computed again compares equal to the one it stored.
func apiTime(t time.Time) metav1.Time {
	return metav1.NewTime(t.Truncate(time.Second))
}
