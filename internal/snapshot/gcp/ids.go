package gcp

import (
	"fmt"
	"sort"
	"strings"

	"github.com/google/uuid"
)

// diskID locates a zonal disk. Volume IDs are either a bare disk name (the
// in-tree pdName, whose zone comes from the PV's zone label) or a CSI handle
// "projects/P/zones/Z/disks/NAME", which carries its own project and zone.
type diskID struct {
	project, zone, name string
}

func (d diskID) String() string {
	return "projects/" + d.project + "/zones/" + d.zone + "/disks/" + d.name
}

func parseDiskID(volumeID, zone, defaultProject string) (diskID, error) {
	if !strings.Contains(volumeID, "/") {
		if volumeID == "" {
			return diskID{}, fmt.Errorf("empty GCE disk name")
		}
		if zone == "" {
			return diskID{}, fmt.Errorf("GCE disk %s: no zone given; the PV needs the label topology.kubernetes.io/zone "+
				"(or failure-domain.beta.kubernetes.io/zone), or a CSI handle projects/P/zones/Z/disks/NAME", volumeID)
		}
		if strings.Contains(zone, "__") {
			return diskID{}, regionalUnsupported(zone)
		}
		return diskID{project: defaultProject, zone: zone, name: volumeID}, nil
	}
	parts := strings.Split(strings.TrimPrefix(volumeID, "/"), "/")
	if len(parts) == 6 && parts[0] == "projects" && parts[2] == "regions" && parts[4] == "disks" {
		return diskID{}, regionalUnsupported(parts[3])
	}
	if len(parts) != 6 || parts[0] != "projects" || parts[2] != "zones" || parts[4] != "disks" ||
		parts[1] == "" || parts[3] == "" || parts[5] == "" {
		return diskID{}, fmt.Errorf("GCE volume ID %q is neither a disk name nor projects/<project>/zones/<zone>/disks/<name>", volumeID)
	}
	return diskID{project: parts[1], zone: parts[3], name: parts[5]}, nil
}

func regionalUnsupported(where string) error {
	return fmt.Errorf("regional persistent disks (%s) are not supported by the gcp block store; use zonal disks "+
		"or back the volume up without snapshots (snapshotVolumes: false)", where)
}

// snapshotID locates a global snapshot: a bare name lives in the configured
// project, "projects/P/global/snapshots/NAME" in project P (a CSI disk in
// another project is snapshotted there).
type snapshotID struct {
	project, name string
}

func (s snapshotID) format(defaultProject string) string {
	if s.project == defaultProject {
		return s.name
	}
	return "projects/" + s.project + "/global/snapshots/" + s.name
}

func parseSnapshotID(id, defaultProject string) (snapshotID, error) {
	if !strings.Contains(id, "/") {
		if id == "" {
			return snapshotID{}, fmt.Errorf("empty GCE snapshot ID")
		}
		return snapshotID{project: defaultProject, name: id}, nil
	}
	parts := strings.Split(strings.TrimPrefix(id, "/"), "/")
	if len(parts) != 5 || parts[0] != "projects" || parts[2] != "global" || parts[3] != "snapshots" || parts[1] == "" || parts[4] == "" {
		return snapshotID{}, fmt.Errorf("GCE snapshot ID %q is neither a snapshot name nor projects/<project>/global/snapshots/<name>", id)
	}
	return snapshotID{project: parts[1], name: parts[4]}, nil
}

// snapshotName makes a unique RFC 1035 name (1-63 characters, lowercase)
// from the disk name, as GCE requires.
func snapshotName(disk string) string {
	suffix := "-" + uuid.NewString()
	base := strings.ToLower(disk)
	if max := 63 - len(suffix); len(base) > max {
		base = base[:max]
	}
	base = strings.TrimRight(base, "-")
	if base == "" || base[0] < 'a' || base[0] > 'z' {
		base = "ark" + base
		if len(base) > 63-len(suffix) {
			base = base[:63-len(suffix)]
		}
	}
	return base + suffix
}

// sanitizeLabels maps Ark's tags onto GCE label rules: keys and values of at
// most 63 lowercase letters, digits, '_' and '-', keys starting with a
// letter, at most 64 labels. "ark.heptio.com/backup" becomes
// "ark-heptio-com-backup". When two keys collide the later one (sorted) wins.
func sanitizeLabels(tags map[string]string) map[string]string {
	if len(tags) == 0 {
		return nil
	}
	keys := make([]string, 0, len(tags))
	for k := range tags {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	out := make(map[string]string, len(tags))
	for _, k := range keys {
		key := labelText(k)
		if key == "" || key[0] < 'a' || key[0] > 'z' {
			key = "k-" + key
		}
		if len(key) > 63 {
			key = key[:63]
		}
		if _, dup := out[key]; !dup && len(out) == 64 {
			continue
		}
		value := labelText(tags[k])
		if len(value) > 63 {
			value = value[:63]
		}
		out[key] = value
	}
	return out
}

func labelText(s string) string {
	var b strings.Builder
	for _, r := range strings.ToLower(s) {
		switch {
		case r >= 'a' && r <= 'z', r >= '0' && r <= '9', r == '_', r == '-':
			b.WriteRune(r)
		default:
			b.WriteByte('-')
		}
	}
	return b.String()
}

// diskTypeURL turns "pd-ssd" into the zonal type path disks.insert expects.
// A full URL or path is used as is.
func diskTypeURL(project, zone, volumeType string) string {
	if strings.Contains(volumeType, "/") {
		return volumeType
	}
	return "projects/" + project + "/zones/" + zone + "/diskTypes/" + volumeType
}

// zoneOf returns Z from a disk URL ".../zones/Z/disks/NAME", or "".
func zoneOf(diskURL string) string {
	parts := strings.Split(diskURL, "/")
	for i := 0; i+1 < len(parts); i++ {
		if parts[i] == "zones" {
			return parts[i+1]
		}
	}
	return ""
}

func lastSegment(s string) string {
	return s[strings.LastIndex(s, "/")+1:]
}
