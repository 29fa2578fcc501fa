package restore

// neverRestored lists resources Ark never creates: nodes belong to the
// cluster, events are history, and Ark's own backups, restores and requests
// would start work or be stale copies. (Schedules and the Config are
// restored: they are how Ark itself is set up.)
var neverRestored = map[string]string{
	"nodes":                   "nodes belong to the cluster they run in",
	"events":                  "events are history, not state",
	"events.events.k8s.io":    "events are history, not state",
	"backups.ark.heptio.com":  "Ark's own backups are synced from object storage, not restored",
	"restores.ark.heptio.com": "restoring Ark's own restores would start them again",
	// A restored deletion request would be carried out again, deleting a
	// backup of the new cluster's bucket; download requests are short-lived
	// links to the old cluster's files.
	"deletebackuprequests.ark.heptio.com": "restoring a deletion request would delete its backup again",
	"downloadrequests.ark.heptio.com":     "download requests are short-lived and belong to the old cluster",
	"serverstatusrequests.ark.heptio.com": "server status requests are short-lived questions to the old cluster's server",
	namespacesKey:                         "namespaces are created before their items, not as items",
}

const (
	namespacesKey = "namespaces"
	crdsKey       = "customresourcedefinitions.apiextensions.k8s.io"
	pvsKey        = "persistentvolumes"
	pvcsKey       = "persistentvolumeclaims"
	podsKey       = "pods"
	jobsKey       = "jobs.batch"
	servicesKey   = "services"
	secretsKey    = "secrets"
)
