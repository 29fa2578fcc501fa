package localnode

import (
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

func TestUnfit(t *testing.T) {
	node := &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: "n", Labels: map[string]string{"disk": "ssd"}}}
	pod := &corev1.Pod{}
	if r := unfit(pod, node); r != "" {
		t.Fatalf("plain pod: %s", r)
	}
	pod.Spec.NodeSelector = map[string]string{"disk": "hdd"}
	if r := unfit(pod, node); !strings.Contains(r, "node affinity/selector") {
		t.Fatalf("nodeSelector mismatch: %q", r)
	}
	pod.Spec.NodeSelector = map[string]string{"disk": "ssd"}
	if r := unfit(pod, node); r != "" {
		t.Fatalf("nodeSelector match: %s", r)
	}
	node.Spec.Taints = []corev1.Taint{{Key: "dedicated", Value: "db", Effect: corev1.TaintEffectNoSchedule}}
	if r := unfit(pod, node); !strings.Contains(r, "untolerated taint {dedicated: db}") {
		t.Fatalf("taint: %q", r)
	}
	pod.Spec.Tolerations = []corev1.Toleration{{Key: "dedicated", Operator: corev1.TolerationOpEqual, Value: "db", Effect: corev1.TaintEffectNoSchedule}}
	if r := unfit(pod, node); r != "" {
		t.Fatalf("tolerated taint: %s", r)
	}
	node.Spec.Taints = []corev1.Taint{{Key: "soft", Effect: corev1.TaintEffectPreferNoSchedule}}
	if r := unfit(pod, node); r != "" {
		t.Fatalf("PreferNoSchedule must not block: %s", r)
	}
}
