// Package hooks is what Ark knows of hooks: commands run in the containers
// of pods around a backup (pre and post, as Heptio Ark v0.7) and in restored
// pods (init containers and exec hooks, as Velero). It reads them from an
// operation's spec and from pod annotations, which take precedence, and runs
// them through a PodExecutor with a timeout, keeping a bounded part of their
// output for the operation's log. The engines decide what a failure means
// for the items of the pod; docs/hooks.md is the user's side.
package hooks
