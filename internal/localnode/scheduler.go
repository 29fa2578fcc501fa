package localnode

import (
	"context"
	"fmt"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/client-go/informers"
	corelisters "k8s.io/client-go/listers/core/v1"
	"k8s.io/client-go/tools/cache"
	"k8s.io/client-go/util/workqueue"
	corev1helpers "k8s.io/component-helpers/scheduling/corev1"
	"k8s.io/component-helpers/scheduling/corev1/nodeaffinity"
)

// DefaultSchedulerName is the schedulerName of pods that do not name one;
// the scheduler binds those and leaves pods for other schedulers alone.
const DefaultSchedulerName = corev1.DefaultSchedulerName

// unschedulableRetry is how often a pod that does not fit is tried again
// (the node's labels or taints may change).
const unschedulableRetry = 10 * time.Second

// scheduler binds every pending pod without a nodeName to this node, through
// the pods/binding subresource as kube-scheduler does, if the node fits it:
// nodeSelector, required node affinity and NoSchedule/NoExecute taints are
// honoured. With one node there is nothing to rank: resources, pod
// (anti-)affinity, topology spread and preferred terms are not looked at.
type scheduler struct {
	n      *Node
	lister corelisters.PodLister
	queue  workqueue.TypedRateLimitingInterface[string]
}

func (n *Node) startScheduler(ctx context.Context) error {
	factory := informers.NewSharedInformerFactoryWithOptions(n.client, 0,
		informers.WithTweakListOptions(func(o *metav1.ListOptions) {
			o.FieldSelector = fields.AndSelectors(
				fields.OneTermEqualSelector("spec.nodeName", ""),
				fields.OneTermNotEqualSelector("status.phase", string(corev1.PodSucceeded)),
				fields.OneTermNotEqualSelector("status.phase", string(corev1.PodFailed)),
			).String()
		}))
	inf := factory.Core().V1().Pods()
	s := &scheduler{
		n:      n,
		lister: inf.Lister(),
		queue:  workqueue.NewTypedRateLimitingQueue(workqueue.DefaultTypedControllerRateLimiter[string]()),
	}
	enqueue := func(obj any) {
		if key, err := cache.MetaNamespaceKeyFunc(obj); err == nil {
			s.queue.Add(key)
		}
	}
	if _, err := inf.Informer().AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc:    enqueue,
		UpdateFunc: func(_, obj any) { enqueue(obj) },
	}); err != nil {
		return err
	}
	factory.Start(ctx.Done())
	if !cache.WaitForCacheSync(ctx.Done(), inf.Informer().HasSynced) {
		return fmt.Errorf("scheduler: pod cache did not sync")
	}
	n.wg.Add(2)
	go func() {
		defer n.wg.Done()
		<-ctx.Done()
		s.queue.ShutDown()
		factory.Shutdown()
	}()
	go func() {
		defer n.wg.Done()
		for s.next(ctx) {
		}
	}()
	return nil
}

func (s *scheduler) next(ctx context.Context) bool {
	key, quit := s.queue.Get()
	if quit {
		return false
	}
	defer s.queue.Done(key)
	retry, err := s.schedule(ctx, key)
	switch {
	case err != nil:
		s.n.log.Warn("schedule pod", "pod", key, "err", err)
		s.queue.AddRateLimited(key)
	case retry:
		s.queue.Forget(key)
		s.queue.AddAfter(key, unschedulableRetry)
	default:
		s.queue.Forget(key)
	}
	return true
}

// schedule binds one pod; retry says it did not fit and should be tried
// again later.
func (s *scheduler) schedule(ctx context.Context, key string) (retry bool, err error) {
	ns, name, err := cache.SplitMetaNamespaceKey(key)
	if err != nil {
		return false, nil
	}
	pod, err := s.lister.Pods(ns).Get(name)
	if apierrors.IsNotFound(err) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	if pod.Spec.NodeName != "" || pod.DeletionTimestamp != nil || len(pod.Spec.SchedulingGates) > 0 ||
		(pod.Spec.SchedulerName != "" && pod.Spec.SchedulerName != DefaultSchedulerName) {
		return false, nil
	}
	node := s.n.nodeObject()
	if reason := unfit(pod, node); reason != "" {
		return true, s.markUnschedulable(ctx, pod, reason)
	}
	binding := &corev1.Binding{
		ObjectMeta: metav1.ObjectMeta{Namespace: pod.Namespace, Name: pod.Name, UID: pod.UID},
		Target:     corev1.ObjectReference{Kind: "Node", Name: node.Name},
	}
	err = s.n.client.CoreV1().Pods(pod.Namespace).Bind(ctx, binding, metav1.CreateOptions{})
	if apierrors.IsNotFound(err) || apierrors.IsConflict(err) {
		return false, nil // deleted, or bound by someone else meanwhile
	}
	if err != nil {
		return false, err
	}
	s.n.schedulerEvents.Eventf(pod, corev1.EventTypeNormal, "Scheduled", "Successfully assigned %s/%s to %s", pod.Namespace, pod.Name, node.Name)
	return false, nil
}

// unfit says why the pod cannot run on node, or "" if it can.
func unfit(pod *corev1.Pod, node *corev1.Node) string {
	var reasons []string
	if ok, err := nodeaffinity.GetRequiredNodeAffinity(pod).Match(node); err != nil {
		reasons = append(reasons, fmt.Sprintf("its node affinity is invalid: %v", err))
	} else if !ok {
		reasons = append(reasons, "node(s) didn't match Pod's node affinity/selector")
	}
	taint, untolerated := corev1helpers.FindMatchingUntoleratedTaint(node.Spec.Taints, pod.Spec.Tolerations, func(t *corev1.Taint) bool {
		return t.Effect == corev1.TaintEffectNoSchedule || t.Effect == corev1.TaintEffectNoExecute
	})
	if untolerated {
		reasons = append(reasons, fmt.Sprintf("node(s) had untolerated taint {%s: %s}", taint.Key, taint.Value))
	}
	if node.Spec.Unschedulable {
		reasons = append(reasons, "node(s) were unschedulable")
	}
	if len(reasons) == 0 {
		return ""
	}
	return fmt.Sprintf("0/1 nodes are available: 1 %s.", strings.Join(reasons, ", 1 "))
}

func (s *scheduler) markUnschedulable(ctx context.Context, pod *corev1.Pod, reason string) error {
	for _, c := range pod.Status.Conditions {
		if c.Type == corev1.PodScheduled && c.Status == corev1.ConditionFalse && c.Message == reason {
			return nil
		}
	}
	p := pod.DeepCopy()
	setCondition(&p.Status, time.Now(), corev1.PodScheduled, false, corev1.PodReasonUnschedulable, reason)
	_, err := s.n.client.CoreV1().Pods(p.Namespace).UpdateStatus(ctx, p, metav1.UpdateOptions{})
	if apierrors.IsNotFound(err) || apierrors.IsConflict(err) {
		return nil // the next event brings it back
	}
	if err == nil {
		s.n.schedulerEvents.Eventf(pod, corev1.EventTypeWarning, "FailedScheduling", "%s", reason)
	}
	return err
}
