package plugin_test

import "os"

func osMkdirTemp() (string, error) { return os.MkdirTemp("", "ark-testplugin-") }
