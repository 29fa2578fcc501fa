package localnode

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/util/retry"
)

// Restart back-off: shorter than the kubelet's (10 s doubling to 5 min),
// since a test waits for it.
const (
	backoffInitial = time.Second
	backoffMax     = 20 * time.Second
	// backoffReset: a container that ran this long starts its back-off over.
	backoffReset = 10 * time.Second
	// retryWait is how long a pod waits before it tries again to set up a
	// volume or an environment that was not there.
	retryWait = 2 * time.Second
)

// podRuntime runs one pod: its volumes, its init containers in order, then
// its containers, restarting them as the restart policy says, and writes
// the pod's status. It ends when the pod is terminated.
type podRuntime struct {
	node *Node
	uid  types.UID
	dir  string

	ctx    context.Context // done: start nothing more
	cancel context.CancelFunc
	done   chan struct{} // run has returned

	statusCh      chan struct{}
	updaterCtx    context.Context
	stopUpdater   context.CancelFunc
	updaterDone   chan struct{}
	terminateOnce sync.Once
	hurry         chan struct{} // closed: the node stops, cut the grace period short
	hurryOnce     sync.Once

	mu             sync.Mutex
	pod            *corev1.Pod
	stopping       bool
	volumes        map[string]string // by volume name; nil until all are ready
	volumesWaiting string            // why the volumes are not ready
	initDone       bool
	failed         bool // an init container failed and the policy is Never
	startTime      time.Time
	initContainers []*container
	containers     []*container
	execs          map[int]struct{} // process groups of commands exec'd into the pod
	warned         map[string]bool  // events sent once per pod
}

func newPodRuntime(n *Node, pod *corev1.Pod) *podRuntime {
	p := &podRuntime{
		node:      n,
		uid:       pod.UID,
		dir:       filepath.Join(n.cfg.Dir, "pods", string(pod.UID)),
		done:      make(chan struct{}),
		hurry:     make(chan struct{}),
		statusCh:  make(chan struct{}, 1),
		pod:       pod.DeepCopy(),
		startTime: time.Now(),
		execs:     map[int]struct{}{},
		warned:    map[string]bool{},
	}
	if pod.Status.StartTime != nil {
		p.startTime = pod.Status.StartTime.Time
	}
	p.ctx, p.cancel = context.WithCancel(n.ctx)
	// The status writer outlives ctx: it writes the final status after
	// the containers are stopped.
	p.updaterCtx, p.stopUpdater = context.WithCancel(n.ctx)
	p.updaterDone = make(chan struct{})
	mk := func(c corev1.Container, init bool, old []corev1.ContainerStatus) *container {
		ctr := &container{
			spec: c, init: init,
			dir:  filepath.Join(p.dir, "containers", c.Name),
			logs: filepath.Join(p.dir, "logs", c.Name),
		}
		// A node started again finds its pods' processes gone: it starts
		// them again and counts that as a restart.
		for _, s := range old {
			if s.Name == c.Name {
				ctr.restartCount = s.RestartCount
				if s.State.Running != nil || s.State.Terminated != nil {
					ctr.lastTerminated = s.State.Terminated
					if ctr.lastTerminated == nil {
						ctr.lastTerminated = &corev1.ContainerStateTerminated{ExitCode: 137, Reason: "NodeRestarted", Message: "the local node was restarted"}
					}
					ctr.restartCount++
				}
			}
		}
		return ctr
	}
	for _, c := range pod.Spec.InitContainers {
		p.initContainers = append(p.initContainers, mk(c, true, pod.Status.InitContainerStatuses))
	}
	for _, c := range pod.Spec.Containers {
		p.containers = append(p.containers, mk(c, false, pod.Status.ContainerStatuses))
	}
	return p
}

func (p *podRuntime) key() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.pod.Namespace + "/" + p.pod.Name
}

func (p *podRuntime) setPod(pod *corev1.Pod) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.pod = pod.DeepCopy()
}

func (p *podRuntime) currentPod() *corev1.Pod {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.pod
}

// notify asks the status writer to write the pod's status.
func (p *podRuntime) notify() {
	select {
	case p.statusCh <- struct{}{}:
	default:
	}
}

func (p *podRuntime) event(eventType, reason, format string, args ...any) {
	p.node.recorder.Eventf(p.currentPod(), eventType, reason, format, args...)
}

// warnOnce sends a Warning event the first time a reason comes up.
func (p *podRuntime) warnOnce(reason, format string, args ...any) {
	msg := fmt.Sprintf(format, args...)
	p.mu.Lock()
	seen := p.warned[reason+msg]
	p.warned[reason+msg] = true
	p.mu.Unlock()
	if !seen {
		p.event(corev1.EventTypeWarning, reason, "%s", msg)
	}
}

func (p *podRuntime) start() {
	go p.updateStatusLoop()
	go p.run()
	p.notify()
}

func (p *podRuntime) run() {
	defer close(p.done)
	if err := os.MkdirAll(p.dir, 0o755); err != nil {
		p.warnOnce("FailedCreatePodSandBox", "create the pod's directory: %v", err)
		return
	}
	if !p.prepareVolumes() {
		return
	}
	for _, c := range p.initContainers {
		if c.spec.RestartPolicy != nil && *c.spec.RestartPolicy == corev1.ContainerRestartPolicyAlways {
			p.setWaiting(c, "CreateContainerConfigError", "init container "+c.spec.Name+" has restartPolicy Always (a sidecar), which the local node does not support")
			p.warnOnce("Failed", "init container %s: sidecar containers (restartPolicy Always) are not supported by the local node", c.spec.Name)
			<-p.ctx.Done()
			return
		}
		if !p.runInit(c) {
			return
		}
	}
	p.mu.Lock()
	p.initDone = true
	p.mu.Unlock()
	p.notify()
	var wg sync.WaitGroup
	for _, c := range p.containers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			p.supervise(c)
		}()
	}
	wg.Wait()
}

// sleep waits d or until the pod stops; false means it stopped.
func (p *podRuntime) sleep(d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-p.ctx.Done():
		return false
	case <-t.C:
		return true
	}
}

func (p *podRuntime) prepareVolumes() bool {
	for {
		setup := &volumeSetup{client: p.node.client, pod: p.currentPod(), podDir: p.dir, node: p.node.nodeObject()}
		setup.resolver = &fieldResolver{pod: setup.pod, node: setup.node}
		vols, err := setup.prepare(p.ctx)
		if err == nil {
			p.mu.Lock()
			p.volumes, p.volumesWaiting = vols, ""
			p.mu.Unlock()
			p.notify()
			return true
		}
		if p.ctx.Err() != nil {
			return false
		}
		p.mu.Lock()
		p.volumesWaiting = err.Error()
		p.mu.Unlock()
		p.notify()
		p.warnOnce("FailedMount", "%v", err)
		if !p.sleep(retryWait) {
			return false
		}
	}
}

func (p *podRuntime) restartPolicy() corev1.RestartPolicy {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.pod.Spec.RestartPolicy == "" {
		return corev1.RestartPolicyAlways
	}
	return p.pod.Spec.RestartPolicy
}

// runInit runs an init container until it succeeds; false means the pod
// stopped or failed.
func (p *podRuntime) runInit(c *container) bool {
	for {
		code, started := p.startAndWait(c)
		if p.ctx.Err() != nil {
			return false
		}
		if !started {
			if !p.sleep(retryWait) {
				return false
			}
			continue
		}
		if code == 0 {
			return true
		}
		if p.restartPolicy() == corev1.RestartPolicyNever {
			p.mu.Lock()
			p.failed = true
			p.mu.Unlock()
			p.notify()
			return false
		}
		if !p.backoff(c) {
			return false
		}
	}
}

// supervise runs a container and restarts it as the restart policy says.
func (p *podRuntime) supervise(c *container) {
	for {
		code, started := p.startAndWait(c)
		if p.ctx.Err() != nil {
			return
		}
		if !started {
			if !p.sleep(retryWait) {
				return
			}
			continue
		}
		switch p.restartPolicy() {
		case corev1.RestartPolicyNever:
			return
		case corev1.RestartPolicyOnFailure:
			if code == 0 {
				return
			}
		}
		if !p.backoff(c) {
			return
		}
	}
}

// backoff waits before a restart, showing CrashLoopBackOff meanwhile.
func (p *podRuntime) backoff(c *container) bool {
	p.mu.Lock()
	delay := backoffInitial
	if t := c.terminated; t != nil && t.FinishedAt.Sub(t.StartedAt.Time) < backoffReset {
		for i := int32(0); i < c.restartCount && delay < backoffMax; i++ {
			delay *= 2
		}
	}
	delay = min(delay, backoffMax)
	c.waitingReason = "CrashLoopBackOff"
	c.waitingMessage = fmt.Sprintf("back-off %s restarting failed container=%s pod=%s_%s(%s)", delay, c.spec.Name, p.pod.Name, p.pod.Namespace, p.uid)
	p.mu.Unlock()
	p.notify()
	return p.sleep(delay)
}

func (p *podRuntime) setWaiting(c *container, reason, msg string) {
	p.mu.Lock()
	c.waitingReason, c.waitingMessage = reason, msg
	p.mu.Unlock()
	p.notify()
}

// startAndWait starts one process of c and waits for it to end. started is
// false when it could not be set up (the caller tries again later) or the
// pod is stopping.
func (p *podRuntime) startAndWait(c *container) (code int32, started bool) {
	spec, err := p.launchSpec(c)
	if err != nil {
		reason := "CreateContainerConfigError"
		var we *waitError
		if errors.As(err, &we) && we.reason == "CreateContainerConfigError" {
			reason = we.reason
		}
		p.setWaiting(c, reason, err.Error())
		p.warnOnce("Failed", "container %s: %v", c.spec.Name, err)
		return 0, false
	}
	if spec.placeholder {
		p.warnOnce("NoCommand", "container %s has no command or args: the local node does not run images, so an idle process (%s) stands in for %s's entrypoint", c.spec.Name, strings.Join(placeholderCommand, " "), c.spec.Image)
	}
	p.mu.Lock()
	if p.stopping {
		p.mu.Unlock()
		return 0, false
	}
	if c.terminated != nil {
		c.lastTerminated, c.terminated = c.terminated, nil
		c.restartCount++
	}
	c.starts++
	logPath, _ := c.logPath(false)
	id := c.id(string(p.uid))
	now := time.Now()
	proc, err := startProcess(spec, logPath)
	if err != nil {
		// As a container runtime reports a command it cannot start.
		c.terminated = terminatedState(128, "StartError", err.Error(), now, now, id)
		c.waitingReason, c.waitingMessage = "", ""
		p.mu.Unlock()
		p.notify()
		p.event(corev1.EventTypeWarning, "Failed", "Error: container %s: %v", c.spec.Name, err)
		return 128, true
	}
	c.running, c.pid, c.startedAt, c.launch = true, proc.cmd.Process.Pid, now, spec
	c.exited = make(chan struct{})
	c.waitingReason, c.waitingMessage = "", ""
	p.mu.Unlock()
	p.notify()
	p.event(corev1.EventTypeNormal, "Started", "Started container %s (pid %d): %s", c.spec.Name, proc.cmd.Process.Pid, strings.Join(spec.argv, " "))

	proc.finish()
	code, reason := exitCode(proc.err)
	p.mu.Lock()
	c.running, c.pid = false, 0
	c.terminated = terminatedState(code, reason, "", c.startedAt, time.Now(), id)
	close(c.exited)
	p.mu.Unlock()
	p.notify()
	return code, true
}

// launchSpec resolves what c's process needs: its volumes as a path map,
// its environment, its command line and working directory.
func (p *podRuntime) launchSpec(c *container) (*launchSpec, error) {
	p.mu.Lock()
	pod, vols := p.pod, p.volumes
	p.mu.Unlock()
	if err := os.MkdirAll(c.dir, 0o755); err != nil {
		return nil, err
	}
	resolver := &fieldResolver{pod: pod, node: p.node.nodeObject()}
	base := map[string]string{
		"PATH":     hostPATH(),
		"HOSTNAME": pod.Name,
		"HOME":     c.dir,
	}
	if rc := p.node.cfg.RESTConfig; rc != nil {
		if host, port, ok := strings.Cut(strings.TrimPrefix(rc.Host, "https://"), ":"); ok {
			base["KUBERNETES_SERVICE_HOST"] = host
			base["KUBERNETES_SERVICE_PORT"] = port
		}
	}
	env, vars, err := environment(p.ctx, p.node.client, resolver, &c.spec, base)
	if err != nil {
		return nil, err
	}
	lookup := func(k string) (string, bool) { v, ok := vars[k]; return v, ok }
	mounts := map[string]string{}
	for _, m := range c.spec.VolumeMounts {
		dir, ok := vols[m.Name]
		if !ok {
			return nil, &specError{msg: fmt.Sprintf("volumeMount %q names no volume of the pod", m.Name)}
		}
		sub := m.SubPath
		if m.SubPathExpr != "" {
			sub = expand(m.SubPathExpr, lookup)
		}
		if sub != "" {
			clean := filepath.Clean(sub)
			if filepath.IsAbs(clean) || clean == ".." || strings.HasPrefix(clean, "../") {
				return nil, &specError{msg: fmt.Sprintf("volumeMount %q: subPath %q leaves the volume", m.Name, sub)}
			}
			dir = filepath.Join(dir, clean)
			if fi, err := os.Stat(dir); errors.Is(err, os.ErrNotExist) {
				if err := os.MkdirAll(dir, 0o755); err != nil {
					return nil, err
				}
			} else if err != nil {
				return nil, err
			} else if !fi.IsDir() && !fi.Mode().IsRegular() {
				return nil, &specError{msg: fmt.Sprintf("volumeMount %q: subPath %s is neither a file nor a directory", m.Name, dir)}
			}
		}
		mounts[m.MountPath] = dir
	}
	paths, err := newPathMap(mounts)
	if err != nil {
		return nil, &specError{msg: fmt.Sprintf("container %s: %v", c.spec.Name, err)}
	}
	for i, kv := range env {
		k, v, _ := strings.Cut(kv, "=")
		env[i] = k + "=" + paths.rewrite(v)
	}
	spec := &launchSpec{env: env, paths: paths, dir: c.dir}
	switch {
	case len(c.spec.Command) > 0:
		spec.argv = append(append([]string{}, c.spec.Command...), c.spec.Args...)
	case len(c.spec.Args) > 0:
		// An image without an entrypoint runs its args; most base images
		// (busybox, alpine, debian) have none.
		spec.argv = append([]string{}, c.spec.Args...)
	default:
		spec.argv = append([]string{}, placeholderCommand...)
		spec.placeholder = true
	}
	for i, a := range spec.argv {
		spec.argv[i] = paths.rewrite(expand(a, lookup))
	}
	if wd := c.spec.WorkingDir; wd != "" {
		mapped := paths.rewrite(wd)
		if fi, err := os.Stat(mapped); mapped != wd || (err == nil && fi.IsDir()) {
			spec.dir = mapped
		} else {
			p.warnOnce("WorkingDir", "container %s: workingDir %s is neither under a volumeMount nor a directory of this machine; it starts in its own directory %s", c.spec.Name, wd, c.dir)
		}
	}
	return spec, nil
}

// findContainer returns a running container by name ("" means the first).
func (p *podRuntime) findContainer(name string) (*container, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, list := range [][]*container{p.containers, p.initContainers} {
		for _, c := range list {
			if c.spec.Name == name || (name == "" && c == p.containers[0]) {
				if !c.running || c.launch == nil {
					return nil, fmt.Errorf("container %s is not running", c.spec.Name)
				}
				return c, nil
			}
		}
	}
	return nil, fmt.Errorf("container %q not found in pod %s/%s", name, p.pod.Namespace, p.pod.Name)
}

// container returns the container with the given name, running or not.
func (p *podRuntime) container(name string) *container {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, list := range [][]*container{p.containers, p.initContainers} {
		for _, c := range list {
			if c.spec.Name == name {
				return c
			}
		}
	}
	return nil
}

// terminate stops the pod's processes: SIGTERM to each process group, then
// SIGKILL after grace. It returns when run has ended.
func (p *podRuntime) terminate(grace time.Duration) {
	p.terminateOnce.Do(func() {
		p.mu.Lock()
		p.stopping = true
		p.cancel()
		var pids []int
		for _, list := range [][]*container{p.initContainers, p.containers} {
			for _, c := range list {
				if c.running {
					pids = append(pids, c.pid)
				}
			}
		}
		for pid := range p.execs {
			pids = append(pids, pid)
		}
		p.mu.Unlock()
		stopProcesses(pids, p.allExited, grace, p.hurry, forcedGrace)
	})
	<-p.done
}

// hurryUp cuts a termination in progress, or the next one, to forcedGrace.
func (p *podRuntime) hurryUp() {
	p.hurryOnce.Do(func() { close(p.hurry) })
}

func (p *podRuntime) allExited() bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, list := range [][]*container{p.initContainers, p.containers} {
		for _, c := range list {
			if c.running {
				return false
			}
		}
	}
	return len(p.execs) == 0
}

// gracePeriod is how long the pod's containers get between SIGTERM and
// SIGKILL when it is deleted.
func gracePeriod(pod *corev1.Pod) time.Duration {
	switch {
	case pod.DeletionGracePeriodSeconds != nil:
		return time.Duration(*pod.DeletionGracePeriodSeconds) * time.Second
	case pod.Spec.TerminationGracePeriodSeconds != nil:
		return time.Duration(*pod.Spec.TerminationGracePeriodSeconds) * time.Second
	default:
		return 30 * time.Second
	}
}

func (p *podRuntime) updateStatusLoop() {
	defer close(p.updaterDone)
	for {
		select {
		case <-p.updaterCtx.Done():
			return
		case <-p.statusCh:
		}
		if err := p.writeStatus(p.updaterCtx); err != nil && p.updaterCtx.Err() == nil {
			p.node.log.Warn("write pod status", "pod", p.key(), "err", err)
			select {
			case <-p.updaterCtx.Done():
				return
			case <-time.After(time.Second):
			}
			p.notify()
		}
	}
}

// writeStatus writes the status the runtime's state gives, unless the pod
// already has it.
func (p *podRuntime) writeStatus(ctx context.Context) error {
	p.mu.Lock()
	ns, name := p.pod.Namespace, p.pod.Name
	p.mu.Unlock()
	pods := p.node.client.CoreV1().Pods(ns)
	return retry.RetryOnConflict(retry.DefaultRetry, func() error {
		cur, err := pods.Get(ctx, name, metav1.GetOptions{})
		if apierrors.IsNotFound(err) {
			return nil
		}
		if err != nil {
			return err
		}
		if cur.UID != p.uid {
			return nil
		}
		status := p.status(cur)
		if equality.Semantic.DeepEqual(cur.Status, status) {
			return nil
		}
		cur.Status = status
		_, err = pods.UpdateStatus(ctx, cur, metav1.UpdateOptions{})
		return err
	})
}

func (p *podRuntime) status(cur *corev1.Pod) corev1.PodStatus {
	p.mu.Lock()
	defer p.mu.Unlock()
	in := statusInput{
		pod:          cur,
		volumesReady: p.volumes != nil,
		volumesWait:  p.volumesWaiting,
		initDone:     p.initDone,
		failed:       p.failed,
		stopping:     p.stopping,
		startTime:    p.startTime,
		now:          time.Now(),
	}
	for _, c := range p.initContainers {
		in.initContainers = append(in.initContainers, c.view(string(p.uid)))
	}
	for _, c := range p.containers {
		in.containers = append(in.containers, c.view(string(p.uid)))
	}
	return buildStatus(in)
}

func (c *container) view(uid string) containerView {
	v := containerView{
		name:           c.spec.Name,
		image:          c.spec.Image,
		waitingReason:  c.waitingReason,
		waitingMessage: c.waitingMessage,
		running:        c.running,
		startedAt:      c.startedAt,
		terminated:     c.terminated,
		lastTerminated: c.lastTerminated,
		restartCount:   c.restartCount,
	}
	if c.starts > 0 {
		v.id = c.id(uid)
	}
	return v
}

// logFile returns the log of a container's current or previous start.
func (p *podRuntime) logFile(name string, previous bool) (path string, writing func() bool, err error) {
	c := p.container(name)
	if c == nil {
		return "", nil, fmt.Errorf("container %q not found in pod %s", name, p.key())
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	path, ok := c.logPath(previous)
	if !ok {
		if previous {
			return "", nil, fmt.Errorf("previous terminated container %q in pod %q not found", name, p.pod.Name)
		}
		return "", nil, fmt.Errorf("container %q in pod %q is waiting to start: %s", name, p.pod.Name, firstNonEmpty(c.waitingReason, p.volumesWaiting, "ContainerCreating"))
	}
	starts := c.starts
	writing = func() bool {
		if previous {
			return false
		}
		p.mu.Lock()
		defer p.mu.Unlock()
		return c.running && c.starts == starts
	}
	return path, writing, nil
}

func firstNonEmpty(s ...string) string {
	for _, v := range s {
		if v != "" {
			return v
		}
	}
	return ""
}
