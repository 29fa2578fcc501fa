package localnode

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"runtime"
	"strconv"
	"strings"
	"time"

	coordinationv1 "k8s.io/api/coordination/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/util/retry"
	"k8s.io/component-helpers/apimachinery/lease"
	"k8s.io/utils/clock"
)

// Heartbeats, as the kubelet's defaults: a Lease renewed every 10 s (what the
// node lifecycle controller watches), the Node's status every minute.
const (
	leaseDuration    = 40 * time.Second
	leaseRenew       = 10 * time.Second
	statusHeartbeat  = time.Minute
	leaseNamespace   = corev1.NamespaceNodeLease
	runtimeName      = "localnode"
	maxPodsPerNode   = 110
	readyMessage     = "the local node runs pods as processes of this machine"
	defaultNodeLabel = "ark.heptio.com/local-node"
)

// register creates the Node, or takes over one an earlier run left, and
// gives it this run's kubelet port.
func (n *Node) register(ctx context.Context) error {
	nodes := n.client.CoreV1().Nodes()
	desired := n.desiredNode()
	created, err := nodes.Create(ctx, desired, metav1.CreateOptions{})
	switch {
	case err == nil:
		n.setNodeObject(created)
	case apierrors.IsAlreadyExists(err):
		err = retry.RetryOnConflict(retry.DefaultRetry, func() error {
			cur, err := nodes.Get(ctx, n.cfg.Name, metav1.GetOptions{})
			if err != nil {
				return err
			}
			if cur.Labels == nil {
				cur.Labels = map[string]string{}
			}
			for k, v := range desired.Labels {
				cur.Labels[k] = v
			}
			updated, err := nodes.Update(ctx, cur, metav1.UpdateOptions{})
			if err == nil {
				n.setNodeObject(updated)
			}
			return err
		})
		if err != nil {
			return fmt.Errorf("update Node %s: %w", n.cfg.Name, err)
		}
	default:
		return fmt.Errorf("create Node %s: %w", n.cfg.Name, err)
	}
	// Status is a subresource: create ignores it.
	if err := n.updateNodeStatus(ctx); err != nil {
		return err
	}
	return n.clearNotReadyTaint(ctx)
}

// clearNotReadyTaint removes the node.kubernetes.io/not-ready taint that the
// API server's TaintNodesByCondition admission puts on a new Node. In a real
// cluster the node lifecycle controller lifts it once the node is Ready; the
// local cluster does not run that controller (it would also evict pods), so
// the node, Ready from its first status, lifts it itself.
func (n *Node) clearNotReadyTaint(ctx context.Context) error {
	nodes := n.client.CoreV1().Nodes()
	return retry.RetryOnConflict(retry.DefaultRetry, func() error {
		cur, err := nodes.Get(ctx, n.cfg.Name, metav1.GetOptions{})
		if err != nil {
			return err
		}
		kept := cur.Spec.Taints[:0]
		for _, t := range cur.Spec.Taints {
			if t.Key != corev1.TaintNodeNotReady {
				kept = append(kept, t)
			}
		}
		if len(kept) == len(cur.Spec.Taints) {
			n.setNodeObject(cur)
			return nil
		}
		cur.Spec.Taints = kept
		updated, err := nodes.Update(ctx, cur, metav1.UpdateOptions{})
		if err == nil {
			n.setNodeObject(updated)
		}
		return err
	})
}

func (n *Node) desiredNode() *corev1.Node {
	return &corev1.Node{
		ObjectMeta: metav1.ObjectMeta{
			Name: n.cfg.Name,
			Labels: map[string]string{
				corev1.LabelHostname:   n.cfg.Name,
				corev1.LabelOSStable:   runtime.GOOS,
				corev1.LabelArchStable: runtime.GOARCH,
				defaultNodeLabel:       "true",
			},
		},
	}
}

func (n *Node) nodeStatus(now time.Time) corev1.NodeStatus {
	capacity := corev1.ResourceList{
		corev1.ResourceCPU:    *resource.NewQuantity(int64(runtime.NumCPU()), resource.DecimalSI),
		corev1.ResourceMemory: *resource.NewQuantity(memTotal(), resource.BinarySI),
		corev1.ResourcePods:   *resource.NewQuantity(maxPodsPerNode, resource.DecimalSI),
	}
	hb := metav1.NewTime(now.Truncate(time.Second))
	cond := func(t corev1.NodeConditionType, s corev1.ConditionStatus, reason, msg string) corev1.NodeCondition {
		return corev1.NodeCondition{Type: t, Status: s, Reason: reason, Message: msg, LastHeartbeatTime: hb, LastTransitionTime: hb}
	}
	kernel, _ := os.ReadFile("/proc/sys/kernel/osrelease")
	bootID, _ := os.ReadFile("/proc/sys/kernel/random/boot_id")
	machineID, _ := os.ReadFile("/etc/machine-id")
	return corev1.NodeStatus{
		Capacity:    capacity,
		Allocatable: capacity,
		Phase:       corev1.NodeRunning,
		Conditions: []corev1.NodeCondition{
			cond(corev1.NodeMemoryPressure, corev1.ConditionFalse, "KubeletHasSufficientMemory", "kubelet has sufficient memory available"),
			cond(corev1.NodeDiskPressure, corev1.ConditionFalse, "KubeletHasNoDiskPressure", "kubelet has no disk pressure"),
			cond(corev1.NodePIDPressure, corev1.ConditionFalse, "KubeletHasSufficientPID", "kubelet has sufficient PID available"),
			cond(corev1.NodeReady, corev1.ConditionTrue, "KubeletReady", readyMessage),
		},
		Addresses: []corev1.NodeAddress{
			{Type: corev1.NodeInternalIP, Address: nodeIP},
			{Type: corev1.NodeHostName, Address: n.cfg.Name},
		},
		DaemonEndpoints: corev1.NodeDaemonEndpoints{KubeletEndpoint: corev1.DaemonEndpoint{Port: int32(n.port)}},
		NodeInfo: corev1.NodeSystemInfo{
			MachineID:               strings.TrimSpace(string(machineID)),
			BootID:                  strings.TrimSpace(string(bootID)),
			KernelVersion:           strings.TrimSpace(string(kernel)),
			OSImage:                 runtime.GOOS + " (pods run as local processes)",
			ContainerRuntimeVersion: runtimeName + "://" + n.cfg.Version,
			KubeletVersion:          n.cfg.Version,
			OperatingSystem:         runtime.GOOS,
			Architecture:            runtime.GOARCH,
		},
	}
}

// updateNodeStatus writes the node's status; condition transition times are
// kept when the status of a condition does not change.
func (n *Node) updateNodeStatus(ctx context.Context) error {
	nodes := n.client.CoreV1().Nodes()
	return retry.RetryOnConflict(retry.DefaultRetry, func() error {
		cur, err := nodes.Get(ctx, n.cfg.Name, metav1.GetOptions{})
		if err != nil {
			return err
		}
		st := n.nodeStatus(time.Now())
		for i, c := range st.Conditions {
			for _, old := range cur.Status.Conditions {
				if old.Type == c.Type && old.Status == c.Status {
					st.Conditions[i].LastTransitionTime = old.LastTransitionTime
				}
			}
		}
		cur.Status = st
		updated, err := nodes.UpdateStatus(ctx, cur, metav1.UpdateOptions{})
		if err == nil {
			n.setNodeObject(updated)
		}
		return err
	})
}

// heartbeat keeps the node alive in the API server's eyes until ctx ends.
func (n *Node) heartbeat(ctx context.Context) {
	leases := lease.NewController(clock.RealClock{}, n.client, n.cfg.Name, int32(leaseDuration/time.Second),
		nil, leaseRenew, n.cfg.Name, leaseNamespace, n.ownLease)
	n.wg.Add(2)
	go func() {
		defer n.wg.Done()
		leases.Run(ctx)
	}()
	go func() {
		defer n.wg.Done()
		wait.UntilWithContext(ctx, func(ctx context.Context) {
			if err := n.updateNodeStatus(ctx); err != nil && ctx.Err() == nil {
				n.log.Warn("node status heartbeat", "err", err)
			}
		}, statusHeartbeat)
	}()
}

// ownLease makes the Node own its Lease, as the kubelet does, so deleting
// the Node deletes the Lease.
func (n *Node) ownLease(l *coordinationv1.Lease) error {
	node := n.nodeObject()
	if node == nil || node.UID == "" {
		return nil
	}
	for _, ref := range l.OwnerReferences {
		if ref.UID == node.UID {
			return nil
		}
	}
	l.OwnerReferences = append(l.OwnerReferences, metav1.OwnerReference{APIVersion: "v1", Kind: "Node", Name: node.Name, UID: node.UID})
	return nil
}

func (n *Node) setNodeObject(node *corev1.Node) {
	n.nodeMu.Lock()
	defer n.nodeMu.Unlock()
	n.node = node.DeepCopy()
}

// nodeObject returns the Node as last written; callers must not change it.
func (n *Node) nodeObject() *corev1.Node {
	n.nodeMu.Lock()
	defer n.nodeMu.Unlock()
	return n.node
}

// memTotal reads the machine's memory from /proc/meminfo; 0 if unknown.
func memTotal() int64 {
	f, err := os.Open("/proc/meminfo")
	if err != nil {
		return 0
	}
	defer f.Close()
	s := bufio.NewScanner(f)
	for s.Scan() {
		fields := strings.Fields(s.Text())
		if len(fields) >= 2 && fields[0] == "MemTotal:" {
			kb, err := strconv.ParseInt(fields[1], 10, 64)
			if err == nil {
				return kb * 1024
			}
		}
	}
	return 0
}
