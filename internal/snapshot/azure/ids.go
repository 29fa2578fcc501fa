package azure

import (
	"fmt"
	"sort"
	"strconv"
	"strings"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore/arm"
	"github.com/google/uuid"
)

// resourceRef names a managed disk or snapshot. IDs handed to and returned
// by the block store are full ARM IDs; bare names (Heptio Ark's in-tree
// diskName, old snapshot IDs) live in AZURE_SUBSCRIPTION_ID and
// AZURE_RESOURCE_GROUP.
type resourceRef struct {
	subscription, resourceGroup string
	kind                        string // "disks" or "snapshots"
	name                        string
}

func (r resourceRef) String() string {
	return "/subscriptions/" + r.subscription + "/resourceGroups/" + r.resourceGroup +
		"/providers/Microsoft.Compute/" + r.kind + "/" + r.name
}

func (b *BlockStore) parse(id, kind string) (resourceRef, error) {
	if id == "" {
		return resourceRef{}, fmt.Errorf("empty Azure %s ID", strings.TrimSuffix(kind, "s"))
	}
	if !strings.Contains(id, "/") {
		if b.resourceGroup == "" {
			return resourceRef{}, fmt.Errorf("Azure %s %q is a bare name and %s is not set: add AZURE_RESOURCE_GROUP to the "+
				"cloud-credentials secret", strings.TrimSuffix(kind, "s"), id, ResourceGroupEnv)
		}
		return resourceRef{subscription: b.subscription, resourceGroup: b.resourceGroup, kind: kind, name: id}, nil
	}
	rid, err := arm.ParseResourceID(id)
	if err != nil {
		return resourceRef{}, fmt.Errorf("%q is not an Azure resource ID: %w", id, err)
	}
	if !strings.EqualFold(rid.ResourceType.Namespace, "Microsoft.Compute") || !strings.EqualFold(rid.ResourceType.Type, kind) ||
		rid.SubscriptionID == "" || rid.ResourceGroupName == "" {
		return resourceRef{}, fmt.Errorf("%q is not the ID of a Microsoft.Compute/%s resource "+
			"(/subscriptions/<id>/resourceGroups/<group>/providers/Microsoft.Compute/%s/<name>)", id, kind, kind)
	}
	return resourceRef{subscription: rid.SubscriptionID, resourceGroup: rid.ResourceGroupName, kind: kind, name: rid.Name}, nil
}

// resourceName makes a unique snapshot name from a disk name within Azure's
// rules: at most 80 characters of letters, digits, '_', '-' and '.',
// starting with a letter or digit.
func resourceName(disk string) string {
	suffix := "-" + uuid.NewString()
	var b strings.Builder
	for _, r := range disk {
		switch {
		case r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z', r >= '0' && r <= '9', r == '_', r == '-', r == '.':
			b.WriteRune(r)
		default:
			b.WriteByte('-')
		}
	}
	base := strings.TrimLeft(b.String(), "_-.")
	if max := 80 - len(suffix); len(base) > max {
		base = base[:max]
	}
	if base == "" {
		base = "ark"
	}
	return base + suffix
}

// toAzureTags maps Ark's tags onto Azure's tag rules: names of at most 512
// characters without < > % & \ ? /, values of at most 256 characters.
// "ark.heptio.com/backup" becomes "ark.heptio.com-backup".
func toAzureTags(tags map[string]string) map[string]*string {
	if len(tags) == 0 {
		return nil
	}
	keys := make([]string, 0, len(tags))
	for k := range tags {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	out := make(map[string]*string, len(tags))
	for _, k := range keys {
		name := strings.Map(func(r rune) rune {
			if strings.ContainsRune(`<>%&\?/`, r) {
				return '-'
			}
			return r
		}, k)
		if len(name) > 512 {
			name = name[:512]
		}
		value := tags[k]
		if len(value) > 256 {
			value = value[:256]
		}
		out[name] = &value
	}
	return out
}

// logicalZone turns a Kubernetes zone label into an Azure availability zone:
// "eastus-2" (topology.kubernetes.io/zone on AKS) or "2" gives "2"; "0", ""
// and anything else mean a disk without a zone.
func logicalZone(zone string) string {
	z := zone[strings.LastIndex(zone, "-")+1:]
	if n, err := strconv.Atoi(z); err == nil && n >= 1 && n <= 3 {
		return z
	}
	return ""
}
