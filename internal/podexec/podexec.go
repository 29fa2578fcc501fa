// Package podexec runs a command in a container of a pod through the API
// server's pods/exec subresource, as kubectl exec does: client-go's
// remotecommand over WebSocket, falling back to SPDY when the server does
// not upgrade to WebSocket. Hooks use it.
package podexec

import (
	"context"
	"errors"
	"fmt"
	"io"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/util/httpstream"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/kubernetes/scheme"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/remotecommand"
	utilexec "k8s.io/client-go/util/exec"
)

// Executor runs commands in pods with the identity of a rest.Config.
type Executor struct {
	config *rest.Config
	client rest.Interface
}

// New makes an Executor for the cluster of cfg.
func New(cfg *rest.Config) (*Executor, error) {
	cs, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		return nil, err
	}
	return &Executor{config: cfg, client: cs.CoreV1().RESTClient()}, nil
}

// Exec runs command in container of pod namespace/name without a terminal
// or stdin, streaming its output into stdout and stderr, and returns when it
// ends. A non-zero exit is an error saying the code. Cancelling ctx closes
// the stream, which ends the command on the node (the kubelet stops an exec
// whose client went away).
func (e *Executor) Exec(ctx context.Context, namespace, name, container string, command []string, stdout, stderr io.Writer) error {
	req := e.client.Post().Resource("pods").Namespace(namespace).Name(name).SubResource("exec").
		VersionedParams(&corev1.PodExecOptions{
			Container: container,
			Command:   command,
			Stdout:    true,
			Stderr:    true,
		}, scheme.ParameterCodec)
	spdy, err := remotecommand.NewSPDYExecutor(e.config, "POST", req.URL())
	if err != nil {
		return err
	}
	ws, err := remotecommand.NewWebSocketExecutor(e.config, "GET", req.URL().String())
	if err != nil {
		return err
	}
	exec, err := remotecommand.NewFallbackExecutor(ws, spdy, func(err error) bool {
		return httpstream.IsUpgradeFailure(err) || httpstream.IsHTTPSProxyError(err)
	})
	if err != nil {
		return err
	}
	err = exec.StreamWithContext(ctx, remotecommand.StreamOptions{Stdout: stdout, Stderr: stderr})
	// remotecommand reports a non-zero exit as client-go's CodeExitError
	// ("command terminated with exit code N"); say it in Ark's words.
	var exit utilexec.CodeExitError
	if errors.As(err, &exit) {
		return fmt.Errorf("the command exited with code %d", exit.Code)
	}
	if err != nil && ctx.Err() != nil {
		return ctx.Err()
	}
	return err
}
