package backup

import "time"

// nowFunc is replaced in tests.
var nowFunc = time.Now
