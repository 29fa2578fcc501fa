package localnode

import (
	"os"
	"path/filepath"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
)

// forcedGrace is what a pod gets between SIGTERM and SIGKILL when its object
// is gone already (deleted with --force) or the node stops.
const forcedGrace = 2 * time.Second

// podManager keeps one podRuntime per pod bound to the node, starts it when
// the pod appears, and finishes a deletion: the API server marks a pod
// deleted; the node stops its processes and then removes the object, as the
// kubelet does. Without that last step `kubectl delete pod` and a
// namespace's deletion would wait forever.
type podManager struct {
	n *Node

	mu         sync.Mutex
	closed     bool
	byUID      map[types.UID]*podRuntime
	finalizing map[types.UID]bool
	work       sync.WaitGroup // finalize and forget goroutines
}

func newPodManager(n *Node) *podManager {
	return &podManager{n: n, byUID: map[types.UID]*podRuntime{}, finalizing: map[types.UID]bool{}}
}

// sync handles a pod that was added or changed.
func (m *podManager) sync(pod *corev1.Pod) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.closed {
		return
	}
	rt := m.byUID[pod.UID]
	if rt != nil {
		rt.setPod(pod)
	}
	if pod.DeletionTimestamp != nil {
		if !m.finalizing[pod.UID] {
			m.finalizing[pod.UID] = true
			m.work.Add(1)
			go m.finalize(pod, rt)
		}
		return
	}
	if rt != nil || pod.Status.Phase == corev1.PodSucceeded || pod.Status.Phase == corev1.PodFailed {
		// Running already, or ended before (a node started again does
		// not run finished pods again).
		return
	}
	rt = newPodRuntime(m.n, pod)
	m.byUID[pod.UID] = rt
	m.n.log.Info("starting pod", "pod", pod.Namespace+"/"+pod.Name, "uid", pod.UID, "dir", rt.dir)
	rt.start()
}

// finalize stops a deleted pod's processes within its grace period, writes
// its last status and removes the object.
func (m *podManager) finalize(pod *corev1.Pod, rt *podRuntime) {
	defer m.work.Done()
	log := m.n.log.With("pod", pod.Namespace+"/"+pod.Name, "uid", pod.UID)
	if rt != nil {
		grace := gracePeriod(pod)
		log.Info("stopping deleted pod", "grace", grace)
		rt.terminate(grace)
		if err := rt.writeStatus(m.n.ctx); err != nil {
			log.Warn("write final status", "err", err)
		}
		rt.stopUpdater()
		<-rt.updaterDone
	}
	// Before the object goes, so that whoever sees it gone finds the
	// pod's directory gone too.
	m.removeDir(pod.UID)
	zero := int64(0)
	opts := metav1.DeleteOptions{GracePeriodSeconds: &zero, Preconditions: &metav1.Preconditions{UID: &pod.UID}}
	for delay := 100 * time.Millisecond; ; delay = min(2*delay, 5*time.Second) {
		err := m.n.client.CoreV1().Pods(pod.Namespace).Delete(m.n.ctx, pod.Name, opts)
		if err == nil || apierrors.IsNotFound(err) || apierrors.IsConflict(err) {
			// Conflict: the UID differs, so this pod is gone already and
			// another of the same name took its place.
			break
		}
		log.Warn("remove pod object", "err", err)
		select {
		case <-m.n.ctx.Done():
			return
		case <-time.After(delay):
		}
	}
	log.Info("pod removed")
	m.cleanup(pod.UID)
}

func (m *podManager) removeDir(uid types.UID) {
	if err := os.RemoveAll(filepath.Join(m.n.cfg.Dir, "pods", string(uid))); err != nil {
		m.n.log.Warn("remove pod directory", "uid", uid, "err", err)
	}
}

// forget handles a pod whose object is gone.
func (m *podManager) forget(pod *corev1.Pod) {
	m.mu.Lock()
	defer m.mu.Unlock()
	rt := m.byUID[pod.UID]
	if rt == nil || m.finalizing[pod.UID] {
		return
	}
	m.finalizing[pod.UID] = true
	m.work.Add(1)
	go func() {
		defer m.work.Done()
		m.n.log.Info("pod object deleted; stopping its processes", "pod", pod.Namespace+"/"+pod.Name, "uid", pod.UID)
		rt.terminate(forcedGrace)
		rt.stopUpdater()
		<-rt.updaterDone
		m.cleanup(pod.UID)
	}()
}

// cleanup removes what the node kept for a pod: emptyDir volumes, logs,
// the containers' directories. hostPath and PersistentVolume directories
// are not under it and stay.
func (m *podManager) cleanup(uid types.UID) {
	m.removeDir(uid)
	m.mu.Lock()
	delete(m.byUID, uid)
	delete(m.finalizing, uid)
	m.mu.Unlock()
}

// lookup finds the runtime of a pod by namespace and name.
func (m *podManager) lookup(namespace, name string) *podRuntime {
	m.mu.Lock()
	defer m.mu.Unlock()
	for _, rt := range m.byUID {
		pod := rt.currentPod()
		if pod.Namespace == namespace && pod.Name == name {
			return rt
		}
	}
	return nil
}

// stopAll stops every pod's processes without touching the API: the node is
// going away, not the pods.
func (m *podManager) stopAll() {
	m.mu.Lock()
	m.closed = true
	rts := make([]*podRuntime, 0, len(m.byUID))
	for _, rt := range m.byUID {
		rts = append(rts, rt)
	}
	m.mu.Unlock()
	var wg sync.WaitGroup
	for _, rt := range rts {
		wg.Add(1)
		go func() {
			defer wg.Done()
			rt.hurryUp()
			rt.terminate(forcedGrace)
		}()
	}
	wg.Wait()
}

// wait waits for the finalize and forget goroutines; they end once the
// node's context is cancelled.
func (m *podManager) wait() { m.work.Wait() }
