package plugin

import (
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
	"maps"
	"slices"
	"strings"
	"sync"
)

// lineLogger writes a plugin's output to the host's log, one record per
// line, under the plugin's name. Lines written by plugin.Log (JSON) keep
// their level, message and attributes; a panic and its stack are errors;
// anything else is info.
type lineLogger struct {
	log    *slog.Logger
	stream string

	mu      sync.Mutex
	partial []byte
	inPanic bool
}

func newLineLogger(log *slog.Logger, stream string) *lineLogger {
	return &lineLogger{log: log, stream: stream}
}

func (l *lineLogger) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.partial = append(l.partial, p...)
	for {
		i := bytes.IndexByte(l.partial, '\n')
		if i < 0 {
			break
		}
		l.line(string(bytes.TrimRight(l.partial[:i], "\r")))
		l.partial = l.partial[i+1:]
	}
	if len(l.partial) > 64<<10 { // a line without end: do not hold it forever
		l.line(string(l.partial))
		l.partial = nil
	}
	return len(p), nil
}

func (l *lineLogger) line(s string) {
	if strings.TrimSpace(s) == "" {
		return
	}
	if strings.HasPrefix(s, "{") {
		var rec map[string]any
		if json.Unmarshal([]byte(s), &rec) == nil {
			if msg, ok := rec["msg"].(string); ok {
				l.record(rec, msg)
				return
			}
		}
	}
	if strings.HasPrefix(s, "panic: ") || strings.HasPrefix(s, "fatal error: ") {
		l.inPanic = true
	}
	level := slog.LevelInfo
	if l.inPanic {
		level = slog.LevelError
	}
	l.log.Log(context.Background(), level, s, "stream", l.stream)
}

func (l *lineLogger) record(rec map[string]any, msg string) {
	var level slog.Level
	if s, ok := rec["level"].(string); !ok || level.UnmarshalText([]byte(s)) != nil {
		level = slog.LevelInfo
	}
	attrs := make([]any, 0, 2*len(rec))
	for _, k := range slices.Sorted(maps.Keys(rec)) {
		switch k {
		case "time", "level", "msg":
		default:
			attrs = append(attrs, k, rec[k])
		}
	}
	l.log.Log(context.Background(), level, msg, attrs...)
}
