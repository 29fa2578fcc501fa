//go:build !unix

package tempfiles

import "os"

// tryLock cannot lock here; RemoveStale removes nothing, since it cannot
// tell what is in use.
func tryLock(*os.File) (bool, error) { return true, nil }

const lockingSupported = false
